# Build the jar with Gradle, then run it on a JRE as an unprivileged user.
FROM gradle:8.10.2-jdk21-alpine AS build
WORKDIR /src
COPY --chown=gradle:gradle . .
RUN gradle build --no-daemon --quiet -x test \
 && find build/libs -name '*.jar' ! -name '*-plain.jar' -exec cp {} /tmp/app.jar \;

FROM eclipse-temurin:21.0.5_11-jre-alpine
RUN addgroup -S app && adduser -S -G app -u 10001 app
WORKDIR /app
COPY --from=build --chown=app:app /tmp/app.jar /app/app.jar
USER 10001
EXPOSE {{ model.port }}
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/app.jar"]
