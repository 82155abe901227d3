# Install the dependencies into a prefix, then copy only them and the app into a slim image.
FROM python:3.12.7-slim-bookworm AS build
WORKDIR /src
COPY requirements.txt .
RUN pip install --no-cache-dir --prefix=/install -r requirements.txt

FROM python:3.12.7-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT={{ model.port }}
RUN useradd --system --uid 10001 --no-create-home app
WORKDIR /app
COPY --from=build /install /usr/local
COPY --chown=app:app app ./app
USER 10001
EXPOSE {{ model.port }}
CMD ["python", "-m", "app"]
