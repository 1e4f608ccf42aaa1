# Image for the web, worker, beat and ml services of docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MMIT_VAR_DIR=/srv/var
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg wordnet-base wordnet-sense-index curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/app
COPY pyproject.toml README.md ./
COPY backend backend
COPY workers workers
COPY ml ml
COPY frontend frontend
COPY manage.py ./
ARG TORCH=torch==2.13.0
RUN pip install --no-cache-dir "$TORCH" && pip install --no-cache-dir -e ".[ml]"
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput
EXPOSE 8000
