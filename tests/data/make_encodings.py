"""Write the corpus of labeled CSV files in the encodings of the world in tests/data/encodings/ (deterministic).

    python tests/data/make_encodings.py [OUT_DIR]

Each file is a text,label table of short product and restaurant reviews (written for this corpus, 24 rows,
12 per label, labels in the file's language) saved the way a spreadsheet or an older system of that region
saves it: Russian in Windows-1251, Arabic in Windows-1256, Japanese in Shift-JIS, Chinese in GBK, Korean in
EUC-KR, Greek in ISO-8859-7, UTF-16 without a byte-order mark (both byte orders), and Western European text
in Windows-1252 (which must keep loading as it always did). Two short files are too short for any detector to
tell Japanese from Korean or Chinese from Korean: they must be refused, never read as the wrong one. ``CORPUS``
maps each file to its encoding and its rows: tests/data/test_encodings.py reads every file back and compares
the text with these rows.
"""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "encodings"

RUSSIAN = [
    ("Отличный ресторан, обязательно придём ещё раз.", "хорошо"),
    ("Ждали заказ больше часа, еда была холодной.", "плохо"),
    ("Доставка пришла быстро, всё было горячим.", "хорошо"),
    ("Официант был грубым и невнимательным.", "плохо"),
    ("Очень вкусный борщ и приятная атмосфера.", "хорошо"),
    ("Суп пересолен, мясо жёсткое.", "плохо"),
    ("Персонал вежливый и внимательный.", "хорошо"),
    ("Наушники сломались через неделю.", "плохо"),
    ("Цены разумные, порции большие.", "хорошо"),
    ("Ужасное обслуживание, больше не приду.", "плохо"),
    ("Телефон работает отлично, батарея держит два дня.", "хорошо"),
    ("Номер грязный, кондиционер не работал.", "плохо"),
    ("Книга интересная, прочитал за один вечер.", "хорошо"),
    ("Посылка пришла повреждённой, коробка была мокрой.", "плохо"),
    ("Гостиница чистая, из окна прекрасный вид на море.", "хорошо"),
    ("Слишком дорого за такое качество.", "плохо"),
    ("Спасибо за быстрый ответ и помощь!", "хорошо"),
    ("Фильм скучный, я уснул на середине.", "плохо"),
    ("Фильм понравился всей семье.", "хорошо"),
    ("Поддержка не отвечает уже три дня.", "плохо"),
    ("Качество ткани хорошее, размер подошёл идеально.", "хорошо"),
    ("Товар не соответствует описанию на сайте.", "плохо"),
    ("Рекомендую этот магазин всем друзьям.", "хорошо"),
    ("Очень шумно, невозможно разговаривать.", "плохо"),
]

ARABIC = [
    ("الطعام كان لذيذا جدا والخدمة ممتازة", "إيجابي"),
    ("الطعام بارد والانتظار طويل", "سلبي"),
    ("المكان نظيف والموظفون لطفاء", "إيجابي"),
    ("الأسعار مرتفعة جدا مقابل الجودة", "سلبي"),
    ("سأعود مرة أخرى بالتأكيد، أنصح به", "إيجابي"),
    ("لن أعود إلى هذا المطعم أبدا", "سلبي"),
    ("وصل الطلب بسرعة وكان ساخنا", "إيجابي"),
    ("النادل كان غير مهذب", "سلبي"),
    ("الفندق رائع والإطلالة على البحر جميلة", "إيجابي"),
    ("السماعات تعطلت بعد أسبوع", "سلبي"),
    ("الهاتف ممتاز والبطارية تدوم طويلا", "إيجابي"),
    ("الغرفة متسخة والمكيف لا يعمل", "سلبي"),
    ("الكتاب مفيد وممتع", "إيجابي"),
    ("وصل الطرد مكسورا", "سلبي"),
    ("الأسعار مناسبة والكمية كبيرة", "إيجابي"),
    ("الخدمة سيئة جدا", "سلبي"),
    ("شكرا على المساعدة السريعة", "إيجابي"),
    ("الفيلم ممل ونمت في منتصفه", "سلبي"),
    ("الفيلم جميل وأعجب كل العائلة", "إيجابي"),
    ("لا أحد يرد على الهاتف منذ ثلاثة أيام", "سلبي"),
    ("جودة القماش عالية والمقاس مناسب", "إيجابي"),
    ("المنتج لا يطابق الوصف في الموقع", "سلبي"),
    ("أنصح جميع أصدقائي بهذا المتجر", "إيجابي"),
    ("المكان مزدحم وصاخب جدا", "سلبي"),
]

JAPANESE = [
    ("料理がとても美味しかったです。", "良い"),
    ("一時間以上待たされて料理も冷めていました。", "悪い"),
    ("店員さんがとても親切でした。", "良い"),
    ("店員の態度が悪かったです。", "悪い"),
    ("また来たいと思います。", "良い"),
    ("スープがしょっぱすぎました。", "悪い"),
    ("配達が早くて助かりました。", "良い"),
    ("イヤホンが一週間で壊れました。", "悪い"),
    ("部屋が清潔で景色も最高でした。", "良い"),
    ("二度と行きません。", "悪い"),
    ("このスマホは電池が長持ちします。", "良い"),
    ("部屋が汚くてエアコンも動きませんでした。", "悪い"),
    ("本当に面白い本でした。", "良い"),
    ("荷物が破損して届きました。", "悪い"),
    ("値段が安くて量も多いです。", "良い"),
    ("この品質でこの値段は高すぎます。", "悪い"),
    ("丁寧に対応していただきありがとうございます。", "良い"),
    ("映画が退屈で途中で寝てしまいました。", "悪い"),
    ("家族みんなで楽しめる映画でした。", "良い"),
    ("問い合わせても三日間返事がありません。", "悪い"),
    ("生地がしっかりしていてサイズもぴったりです。", "良い"),
    ("商品が説明と違いました。", "悪い"),
    ("友達にもすすめたいお店です。", "良い"),
    ("店内がうるさくて会話ができませんでした。", "悪い"),
]

CHINESE = [
    ("菜很好吃，服务也很周到。", "好评"),
    ("等了一个多小时，菜都凉了。", "差评"),
    ("环境干净，下次还会再来。", "好评"),
    ("服务员态度很差。", "差评"),
    ("送货很快，饭菜还是热的。", "好评"),
    ("汤太咸了，肉也很硬。", "差评"),
    ("酒店房间很干净，海景很美。", "好评"),
    ("耳机用了一个星期就坏了。", "差评"),
    ("这款手机电池很耐用。", "好评"),
    ("再也不会来了。", "差评"),
    ("这本书很有意思，一个晚上就看完了。", "好评"),
    ("房间很脏，空调也不能用。", "差评"),
    ("价格实惠，分量很足。", "好评"),
    ("包裹到的时候已经破了。", "差评"),
    ("谢谢你们的耐心帮助！", "好评"),
    ("这个质量卖这个价格太贵了。", "差评"),
    ("电影很好看，全家人都喜欢。", "好评"),
    ("电影太无聊了，我看到一半就睡着了。", "差评"),
    ("衣服质量很好，尺码也合适。", "好评"),
    ("客服三天都没有回复。", "差评"),
    ("强烈推荐给朋友们。", "好评"),
    ("商品和网上的描述不一样。", "差评"),
    ("老板很热情，菜上得也快。", "好评"),
    ("店里太吵了，没办法说话。", "差评"),
]

KOREAN = [
    ("음식이 정말 맛있었어요.", "긍정"),
    ("한 시간 넘게 기다렸고 음식도 식었어요.", "부정"),
    ("직원들이 아주 친절했습니다.", "긍정"),
    ("직원이 불친절했습니다.", "부정"),
    ("다음에 또 오고 싶어요.", "긍정"),
    ("국이 너무 짰어요.", "부정"),
    ("배달이 빨라서 음식이 따뜻했어요.", "긍정"),
    ("이어폰이 일주일 만에 고장 났어요.", "부정"),
    ("방이 깨끗하고 바다 전망이 멋졌어요.", "긍정"),
    ("다시는 안 갈 거예요.", "부정"),
    ("이 휴대폰은 배터리가 오래 갑니다.", "긍정"),
    ("방이 더럽고 에어컨도 안 됐어요.", "부정"),
    ("책이 재미있어서 하룻밤에 다 읽었어요.", "긍정"),
    ("택배가 파손된 채로 왔어요.", "부정"),
    ("가격이 저렴하고 양도 많아요.", "긍정"),
    ("이 품질에 이 가격은 너무 비싸요.", "부정"),
    ("빠른 답변 감사합니다.", "긍정"),
    ("영화가 지루해서 중간에 잠들었어요.", "부정"),
    ("가족 모두 재미있게 본 영화입니다.", "긍정"),
    ("사흘째 문의에 답이 없어요.", "부정"),
    ("옷감이 좋고 사이즈도 딱 맞아요.", "긍정"),
    ("상품이 설명과 달라요.", "부정"),
    ("친구들에게 추천하고 싶은 가게입니다.", "긍정"),
    ("가게가 너무 시끄러워서 대화를 못 했어요.", "부정"),
]

GREEK = [
    ("Το φαγητό ήταν πολύ νόστιμο και η εξυπηρέτηση άψογη.", "θετικό"),
    ("Περιμέναμε πάνω από μία ώρα και το φαγητό ήταν κρύο.", "αρνητικό"),
    ("Το προσωπικό ήταν ευγενικό και πρόθυμο.", "θετικό"),
    ("Ο σερβιτόρος ήταν αγενής.", "αρνητικό"),
    ("Σίγουρα θα ξαναέρθουμε.", "θετικό"),
    ("Η σούπα ήταν πολύ αλμυρή.", "αρνητικό"),
    ("Η παράδοση ήταν γρήγορη και το φαγητό ζεστό.", "θετικό"),
    ("Τα ακουστικά χάλασαν μετά από μία εβδομάδα.", "αρνητικό"),
    ("Το δωμάτιο ήταν καθαρό με υπέροχη θέα στη θάλασσα.", "θετικό"),
    ("Δεν θα ξαναπάω ποτέ.", "αρνητικό"),
    ("Το κινητό είναι εξαιρετικό, η μπαταρία κρατάει δύο μέρες.", "θετικό"),
    ("Το δωμάτιο ήταν βρώμικο και το κλιματιστικό δεν λειτουργούσε.", "αρνητικό"),
    ("Πολύ ενδιαφέρον βιβλίο, το διάβασα σε ένα βράδυ.", "θετικό"),
    ("Το δέμα έφτασε σπασμένο.", "αρνητικό"),
    ("Λογικές τιμές και μεγάλες μερίδες.", "θετικό"),
    ("Πολύ ακριβό για τέτοια ποιότητα.", "αρνητικό"),
    ("Ευχαριστώ για τη γρήγορη βοήθεια!", "θετικό"),
    ("Βαρετή ταινία, αποκοιμήθηκα στη μέση.", "αρνητικό"),
    ("Η ταινία άρεσε σε όλη την οικογένεια.", "θετικό"),
    ("Η υποστήριξη δεν απαντά εδώ και τρεις μέρες.", "αρνητικό"),
    ("Καλή ποιότητα υφάσματος, το μέγεθος ταίριαξε τέλεια.", "θετικό"),
    ("Το προϊόν δεν αντιστοιχεί στην περιγραφή.", "αρνητικό"),
    ("Το προτείνω ανεπιφύλακτα σε όλους.", "θετικό"),
    ("Πολύς θόρυβος, δεν μπορούσαμε να μιλήσουμε.", "αρνητικό"),
]

# French, German and Spanish: Windows-1252 as Excel saves "CSV" on a Western European Windows.
WESTERN = [
    ("Le service était impeccable et la crème brûlée délicieuse.", "positive"),
    ("Nous avons attendu une heure, les plats étaient froids.", "negative"),
    ("Très bon rapport qualité-prix, je reviendrai à coup sûr.", "positive"),
    ("Le serveur était désagréable et pressé.", "negative"),
    ("Das Essen war köstlich und die Bedienung sehr freundlich.", "positive"),
    ("Die Suppe war versalzen, das Fleisch zäh.", "negative"),
    ("Schöne Aussicht, saubere Zimmer, gerne wieder!", "positive"),
    ("Der Kopfhörer ging nach einer Woche kaputt.", "negative"),
    ("La comida estaba riquísima y el camarero fue muy amable.", "positive"),
    ("Demasiado caro para la calidad que ofrecen.", "negative"),
    ("El envío llegó rápido y en perfecto estado.", "positive"),
    ("El paquete llegó roto y nadie contestó mis correos.", "negative"),
    ("Un café « à l’ancienne », exactement ce qu’il fallait.", "positive"),
    ("Trop de bruit : impossible de se parler.", "negative"),
    ("Größe passt perfekt, der Stoff fühlt sich hochwertig an.", "positive"),
    ("Das Produkt entspricht nicht der Beschreibung – schade.", "negative"),
    ("¡Qué película tan bonita! A toda la familia le encantó.", "positive"),
    ("La película era aburrida, me dormí a la mitad.", "negative"),
    ("Personnel aux petits soins, chambre très propre.", "positive"),
    ("Le colis est arrivé abîmé, la boîte était mouillée.", "negative"),
    ("Preis und Leistung stimmen, Portionen sind groß.", "positive"),
    ("Der Support antwortet seit drei Tagen nicht.", "negative"),
    ("Recomiendo esta tienda a todos mis amigos.", "positive"),
    ("El hotel estaba sucio y el aire acondicionado no funcionaba.", "negative"),
]

# file: (the encoding it is saved in, its rows)
CORPUS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "russian_cp1251.csv": ("cp1251", RUSSIAN),
    "arabic_cp1256.csv": ("cp1256", ARABIC),
    "japanese_shift_jis.csv": ("shift_jis", JAPANESE),
    "chinese_gbk.csv": ("gbk", CHINESE),
    "korean_euc_kr.csv": ("euc_kr", KOREAN),
    "greek_iso8859_7.csv": ("iso8859_7", GREEK),
    "russian_utf16le_no_bom.csv": ("utf-16-le", RUSSIAN),
    "japanese_utf16be_no_bom.csv": ("utf-16-be", JAPANESE),
    "western_cp1252.csv": ("cp1252", WESTERN),
    "japanese_shift_jis_short.csv": ("shift_jis", JAPANESE[:4]),
    "chinese_gbk_one_row.csv": ("gbk", CHINESE[:1]),
}


def csv_text(rows: list[tuple[str, str]]) -> str:
    """A text,label table as Excel writes it: CRLF line ends, quotes only where a text needs them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(("text", "label"))
    writer.writerows(rows)
    return out.getvalue()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (encoding, rows) in CORPUS.items():
        (OUT / name).write_bytes(csv_text(rows).encode(encoding))  # strict: every character exists there


if __name__ == "__main__":
    if len(sys.argv) > 1:
        OUT = Path(sys.argv[1])
    main()
    print(f"wrote {len(list(OUT.iterdir()))} files to {OUT}")
