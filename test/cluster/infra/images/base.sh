#!/usr/bin/env bash
# The two base images the repository's Dockerfile is built FROM on a machine without a registry:
#   $BUILD_TAG    stands in for node:24-bookworm-slim — a Debian rootfs from mmdebstrap (the machine's own
#                 apt sources, so no mirror is named here) + Node from the npm `node` package + npm from the
#                 npm registry;
#   $RUNTIME_TAG  stands in for distroless nodejs24 — Node at /nodejs/bin/node (the Dockerfile's ENTRYPOINT)
#                 with only the shared libraries it links, a CA bundle, /etc/passwd with nonroot 65532, no shell.
# The package registries are reached through a proxy whose CA only this machine trusts: both images
# carry the machine's CA bundle, and the build image sets NODE_EXTRA_CA_CERTS, so the Dockerfile stays unchanged.
# Called by images.ts with: NODE_BIN NPM_VERSION BUILD_TAG RUNTIME_TAG DL_DIR; podman's config from the caller.
set -euo pipefail
: "${NODE_BIN:?}" "${NPM_VERSION:?}" "${BUILD_TAG:?}" "${RUNTIME_TAG:?}" "${DL_DIR:?}"

suite="$(. /etc/os-release && echo "$VERSION_CODENAME")"
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
work="$(mktemp -d /var/tmp/auth-shim-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/build" rt="$work/runtime"

mkdir -p "$DL_DIR"
npm_tgz="$DL_DIR/npm-$NPM_VERSION.tgz"
if [ ! -f "$npm_tgz" ]; then
  (cd "$DL_DIR" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
fi

mmdebstrap --quiet --variant=minbase --include=ca-certificates "$suite" "$root" "$sources"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
install -m 0755 "$NODE_BIN" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$npm_tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
chroot "$root" /usr/local/bin/node --version >/dev/null

# Runtime: Node and exactly the libraries ldd names, at their multiarch paths (glibc ≥ 2.34 has nss_files/dns built in).
mkdir -p "$rt/nodejs/bin" "$rt/usr/lib/x86_64-linux-gnu" "$rt/usr/lib64" "$rt/etc/ssl/certs" "$rt/tmp" "$rt/home/nonroot"
install -m 0755 "$NODE_BIN" "$rt/nodejs/bin/node"
ln -s usr/lib "$rt/lib"
ln -s usr/lib64 "$rt/lib64"
for lib in $(chroot "$root" ldd /usr/local/bin/node | awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do
  real="$(chroot "$root" readlink -f "$lib")"
  case "$lib" in
    */ld-linux-x86-64.so.2) cp "$root$real" "$rt/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
                            ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$rt/usr/lib64/ld-linux-x86-64.so.2" ;;
    *) cp "$root$real" "$rt/usr/lib/x86_64-linux-gnu/$(basename "$lib")" ;;
  esac
done
cp /etc/ssl/certs/ca-certificates.crt "$rt/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rt/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rt/etc/group"
printf 'hosts: files dns\n' >"$rt/etc/nsswitch.conf"
chmod 1777 "$rt/tmp"
chown 65532:65532 "$rt/home/nonroot"

tar -C "$root" -c . | podman import --quiet \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' - "$BUILD_TAG" >/dev/null
tar -C "$rt" -c . | podman import --quiet \
  --change 'ENV PATH=/nodejs/bin' --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' \
  --change 'ENTRYPOINT ["/nodejs/bin/node"]' - "$RUNTIME_TAG" >/dev/null
