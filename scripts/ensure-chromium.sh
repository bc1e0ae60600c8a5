#!/usr/bin/env bash
# The console's end-to-end tests drive Debian's Chromium (no browser download). Installs it, with a CJK font so the
# screenshots are readable, when it is missing and this user can install packages; otherwise says what to do.
set -uo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
need=()
[ -x "$CHROMIUM" ] || need+=(chromium)
fc-list 2>/dev/null | grep -qiE "wqy|noto.*cjk|droid.*fallback" || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "正在安装 ${need[*]}（控制台端到端测试用）…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1; } || echo "安装 ${need[*]} 失败。" >&2
else
  echo "缺少 ${need[*]}：请以 root 运行 apt-get install ${need[*]}，或用 CHROMIUM_PATH 指定已安装的 Chromium。" >&2
fi
exit 0
