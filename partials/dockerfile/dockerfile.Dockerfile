# Your own Dockerfile: bluegreen wrote this starter once and never overwrites it.
# Keep the image listening on port {{ model.port }} and answering {{ model.environments[0].health_check_path }}.
FROM nginx:1.27.2-alpine
EXPOSE {{ model.port }}
