#!/bin/sh
# Set up, build (Release) and serve: scripts/serve.sh 7001 7002:echo 7003 [OPTIONS]
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh build
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release >/dev/null
exec build/server/mpserver "$@"
