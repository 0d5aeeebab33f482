# Sourced by .ci/run: makes sure Debian's headless Chromium is at /usr/bin/chromium for the report
# browser test (test/report/browser.test.ts), which skips with a message when it is absent.
# Installs it with apt only when it is missing and we are root (never sudo); otherwise says why not.

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "warning: /usr/bin/chromium is missing and we are not root; the report browser test will be skipped"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: /usr/bin/chromium is missing and there is no apt-get; the report browser test will be skipped"
    return 0
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the report browser test will be skipped"
}
