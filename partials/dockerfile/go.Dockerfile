# A static binary on a small base that keeps busybox wget for the container health check.
FROM golang:1.23.3-alpine AS build
WORKDIR /src
COPY go.mod go.sum* ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/app .

FROM alpine:3.20.3
RUN adduser -S -u 10001 app
COPY --from=build /out/app /usr/local/bin/app
USER 10001
EXPOSE {{ model.port }}
ENTRYPOINT ["/usr/local/bin/app"]
