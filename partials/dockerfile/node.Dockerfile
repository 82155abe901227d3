# Install production dependencies only, then run as the image's unprivileged node user (uid 1000).
FROM node:22.11.0-alpine AS build
WORKDIR /src
COPY package*.json ./
RUN npm ci --omit=dev
COPY . .

FROM node:22.11.0-alpine
ENV NODE_ENV=production \
    PORT={{ model.port }}
WORKDIR /app
COPY --from=build --chown=node:node /src /app
USER 1000
EXPOSE {{ model.port }}
CMD ["node", "."]
