#!/usr/bin/env bash
# Installs everything the webcast service and its tests need on Debian 12, then the npm
# dependencies; with --bench, also what `npm run bench` compares against. Safe to run again:
# it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# iptables confines the cloud browser's own WebRTC to public addresses; iproute2 makes the
# tests' public test host (a network namespace).
APT_PACKAGES=(chromium janus iptables iproute2)
# What pages need to look right: Chinese (both scripts), Japanese and Korean; colour emoji;
# metric-compatible stand-ins for Arial, Times New Roman and Courier New.
APT_PACKAGES+=(fonts-noto-cjk fonts-noto-color-emoji fonts-liberation2)
# The browsers' Landlock helper is built from its C source (src/capture/confine).
APT_PACKAGES+=(gcc libc6-dev)
# Several nodes share one PostgreSQL; the tests start their own server from Debian's.
APT_PACKAGES+=(postgresql)
# The hostile suite sends datagrams to UNIX sockets, which Node.js cannot (python3 is on most
# machines already).
APT_PACKAGES+=(python3)
# Each browser's network namespace has slirp4netns as its way out (src/capture/browser-network.ts).
APT_PACKAGES+=(slirp4netns)
# A test boots systemd in a container (systemd-nspawn) to start the unit deploy/webcast.service.
APT_PACKAGES+=(systemd-container)
# The benchmark's baseline, the classic pipeline: Chromium in Xvfb, PulseAudio, ffmpeg.
if [ "${1:-}" = "--bench" ]; then
  APT_PACKAGES+=(xvfb pulseaudio ffmpeg)
fi

need_node_major=20
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt "$need_node_major" ]; then
  echo "install-deps: Node.js $need_node_major or later is needed (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]} from Debian's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian's janus package starts a system-wide daemon; the service runs its own instance.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet janus 2>/dev/null; then
    $SUDO systemctl disable --now janus || true
  fi
fi

# slirp4netns opens /dev/net/tun as a browser's uid. udev makes it 0666 on Debian (a tun device
# lets a process make interfaces only in network namespaces it governs); a machine without udev
# (a container, a micro-VM) may have left it root's alone.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  echo "install-deps: /dev/net/tun to mode 0666, as udev sets it"
  $SUDO chmod 0666 /dev/net/tun
fi

# Each browser runs in a Landlock domain (src/capture/browser-confinement.ts); the kernel's
# interface is system calls that Node.js cannot make, so a small C program sets it up. Rebuilt
# whenever its source is newer. Root's, and writable by nobody else: the service runs it as root.
CONFINE_SRC=src/capture/confine/webcast-confine.c
CONFINE_BIN=.deps/webcast-confine
if [ ! -x "$CONFINE_BIN" ] || [ "$CONFINE_SRC" -nt "$CONFINE_BIN" ]; then
  echo "install-deps: building $CONFINE_BIN"
  mkdir -p .deps
  cc -O2 -Wall -Wextra -Werror -o "$CONFINE_BIN.new" "$CONFINE_SRC"
  chmod 0755 "$CONFINE_BIN.new"
  mv "$CONFINE_BIN.new" "$CONFINE_BIN"
fi

echo "install-deps: npm ci"
npm ci --no-audit --no-fund

# The WHIP test's peer: Debian's simple-whip-server (Meetecho's WHIP server in front of Janus).
# Its package depends on Debian's own Node.js 18 and node-* packages, which conflict with the
# Node.js 20 this project runs on, so its code is taken from the package as it is and run
# with the project's Node.js; its few npm dependencies are devDependencies of ours.
WHIP_DIR=.deps/simple-whip-server
if [ ! -f "$WHIP_DIR/usr/share/simple-whip-server/src/server.js" ]; then
  echo "install-deps: simple-whip-server from Debian's package, into $WHIP_DIR"
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download simple-whip-server >/dev/null 2>&1); then
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download simple-whip-server >/dev/null)
  fi
  mkdir -p "$WHIP_DIR"
  dpkg-deb -x "$tmp"/simple-whip-server_*.deb "$WHIP_DIR"
  rm -rf "$tmp"
fi
