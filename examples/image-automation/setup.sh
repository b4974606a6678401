#!/usr/bin/env bash
# Sets up the image automation demo under /tmp/herald-image-demo:
#   - Debian's docker-registry (apt-get install docker-registry) on 127.0.0.1:5055, in the background;
#   - tags 1.0.0 and 1.1.0 of demo/app pushed to it over HTTP (no docker needed);
#   - a bare Git repository fleet.git whose deploy/app.yaml carries an $imagepolicy marker.
# `./setup.sh push 1.2.0` pushes one more tag; `./setup.sh stop` stops the registry.
set -euo pipefail
DEMO=/tmp/herald-image-demo
REGISTRY=http://127.0.0.1:5055

push_tag() {
  local tag=$1 config='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
  local digest="sha256:$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)"
  local location
  location=$(curl -fsS -D - -o /dev/null -X POST "$REGISTRY/v2/demo/app/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case "$location" in http*) ;; *) location="$REGISTRY$location" ;; esac
  case "$location" in *\?*) sep='&' ;; *) sep='?' ;; esac
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "$config" "$location${sep}digest=$digest" >/dev/null
  # One manifest per tag, made distinct by an annotation.
  curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @- \
    "$REGISTRY/v2/demo/app/manifests/$tag" >/dev/null <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$digest","size":${#config}},"layers":[],"annotations":{"org.opencontainers.image.version":"$tag"}}
JSON
  echo "pushed demo/app:$tag"
}

case "${1:-setup}" in
  push) push_tag "$2"; exit ;;
  stop) kill "$(cat "$DEMO/registry.pid")" && echo "registry stopped"; exit ;;
esac

mkdir -p "$DEMO"
cat > "$DEMO/registry.yml" <<YAML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $DEMO/registry } }
http: { addr: 127.0.0.1:5055 }
YAML
docker-registry serve "$DEMO/registry.yml" >"$DEMO/registry.log" 2>&1 &
echo $! > "$DEMO/registry.pid"
for _ in $(seq 50); do curl -fsS "$REGISTRY/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
push_tag 1.0.0
push_tag 1.1.0

rm -rf "$DEMO/fleet.git" "$DEMO/seed"
git init --quiet --bare --initial-branch main "$DEMO/fleet.git"
git init --quiet --initial-branch main "$DEMO/seed"
mkdir -p "$DEMO/seed/deploy"
cat > "$DEMO/seed/deploy/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-app
  namespace: apps
spec:
  template:
    spec:
      containers:
        - name: app
          image: 127.0.0.1:5055/demo/app:1.0.0 # {"$imagepolicy": "flux-system:demo-app"}
YAML
git -C "$DEMO/seed" add --all
git -C "$DEMO/seed" -c user.name=demo -c user.email=demo@example.com commit --quiet -m 'seed'
git -C "$DEMO/seed" push --quiet "$DEMO/fleet.git" main
echo "bare repository $DEMO/fleet.git ready; registry on $REGISTRY (pid $(cat "$DEMO/registry.pid"))"
