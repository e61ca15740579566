# syntax=docker/dockerfile:1
# The cachesync image: `docker build -t cachesync .` (docker-compose.yml builds it too).
# Stage 1 builds the shaded jar with Maven; stage 2 runs it on a JRE as a non-root user. The
# configuration is mounted at /etc/cachesync (synchronizer.yml, and the mapping it names). Checked
# by DockerfileIT: the build's Maven command, the artifact it copies, the modules it needs.

FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /build
# Every module of the root pom.xml (the reactor needs them all).
COPY pom.xml ./
COPY model model
COPY config config
COPY synchronizer synchronizer
COPY bench bench
COPY distribution distribution
# The local Maven repository is a build cache, kept between builds and never part of the image.
RUN --mount=type=cache,target=/root/.m2 mvn -B -ntp -DskipTests package

# Ubuntu-based (not -alpine): the health check in docker-compose.yml needs bash.
FROM eclipse-temurin:17-jre-noble
RUN groupadd --system --gid 10001 cachesync \
 && useradd --system --uid 10001 --gid cachesync --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cachesync
# The shaded jar for now. For the release tarball: unpack it in the build stage, copy its folder to
# /opt/cachesync, and make the ENTRYPOINT ["/opt/cachesync/bin/cachesync"].
COPY --from=build /build/synchronizer/target/cachesync.jar /opt/cachesync/cachesync.jar
WORKDIR /opt/cachesync
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
# Metrics (/metrics) and health (/health/live, /health/ready), when http.host is 0.0.0.0, as the
# example configuration's CACHESYNC_HTTP_HOST=0.0.0.0 makes it.
EXPOSE 9464
# exec: the JVM replaces the shell and gets SIGTERM itself (docker stop), for a clean stop; it
# exits on an OutOfMemoryError, as with bin/cachesync, so that the container is restarted.
# CACHESYNC_JAVA_OPTS holds JVM options (set -f: split on spaces, never globbed). Other commands
# replace CMD: docker run ... cachesync validate --config /etc/cachesync/synchronizer.yml
ENTRYPOINT ["sh", "-c", "set -f; exec java -XX:+ExitOnOutOfMemoryError $CACHESYNC_JAVA_OPTS -jar /opt/cachesync/cachesync.jar \"$@\"", "cachesync"]
CMD ["run", "--config", "/etc/cachesync/synchronizer.yml"]
