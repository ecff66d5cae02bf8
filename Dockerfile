# pygrid-operator container image.
#   docker build -t <registry>/pygrid-operator:<tag> .
# Build stage: Debian 12 with the same -dev packages as scripts/install-deps.sh (less the test
# and ccache ones), building the release preset. Runtime stage: Debian 12 slim with only the
# shared libraries the binary loads (tests/packaging/check_image_libraries.py checks the list
# against `ldd` of the built binary), running as UID 65532 with a read-only root filesystem:
# the operator writes nothing outside /tmp (the chart mounts an emptyDir there).

FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config \
      libcpprest-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libssh-dev \
      prometheus-cpp-dev libboost-log-dev libboost-program-options-dev libboost-system-dev \
      libboost-thread-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DPYGRID_BUILD_TESTS=OFF \
 && cmake --build --preset release --target pygrid-operator \
 && strip -o /pygrid-operator build/release/bin/pygrid-operator

FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries only; apt brings their own dependencies (krb5, icu, brotli, civetweb, ...).
# ca-certificates: the Genesis Cloud API is HTTPS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libcpprest2.10 libssl3 zlib1g libstdc++6 \
      libboost-log1.74.0 libboost-program-options1.74.0 libboost-thread1.74.0 \
      libboost-system1.74.0 libboost-filesystem1.74.0 libboost-atomic1.74.0 \
      libboost-chrono1.74.0 \
      libyaml-cpp0.7 libssh-4 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /pygrid-operator /pygrid-operator
# Non-root (the "nonroot" UID of distroless images, matching the chart's runAsUser).
USER 65532:65532
ENV HOME=/tmp TMPDIR=/tmp
WORKDIR /tmp
EXPOSE 8443 8081
ENTRYPOINT ["/pygrid-operator"]
