# One image for the studio and both workers (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STUDIO_DATA_DIR=/data \
    STUDIO_MODELS_DIR=/models

WORKDIR /app

# requirements.txt pins the CPU build of torch (what the dev machines have); the image takes the
# same version from PyTorch's CUDA index so the gpu worker can use the GPU. The CUDA build also
# runs on the CPU, so one image serves the studio, worker-cpu and worker-gpu.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
COPY requirements.txt ./
RUN sed -E 's/^(torch==[0-9.]+)\+cpu$/\1/' requirements.txt > /tmp/requirements.txt \
    && pip install --no-cache-dir --extra-index-url "${TORCH_INDEX_URL}" -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

RUN useradd --create-home --uid 1000 studio && mkdir -p /data /models && chown studio /data /models
COPY --chown=studio . .
USER studio

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)" || exit 1

# The studio: migrate (idempotent; serialised by an advisory lock on PostgreSQL), then serve.
CMD ["sh", "-c", "python -m backend migrate && exec python -m streamlit run Home.py --server.port 8501 --server.address 0.0.0.0 --server.headless true"]
