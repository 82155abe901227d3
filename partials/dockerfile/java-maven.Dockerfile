# Build the jar with Maven (dependencies cached in their own layer), then run it on a JRE.
FROM maven:3.9.9-eclipse-temurin-21-alpine AS build
WORKDIR /src
COPY pom.xml .
RUN mvn --batch-mode --quiet dependency:go-offline
COPY src ./src
RUN mvn --batch-mode --quiet package -DskipTests \
 && find target -maxdepth 1 -name '*.jar' ! -name 'original-*' ! -name '*-sources.jar' -exec cp {} /tmp/app.jar \;

FROM eclipse-temurin:21.0.5_11-jre-alpine
RUN addgroup -S app && adduser -S -G app -u 10001 app
WORKDIR /app
COPY --from=build --chown=app:app /tmp/app.jar /app/app.jar
USER 10001
EXPOSE {{ model.port }}
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/app.jar"]
