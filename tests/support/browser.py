"""Drive a real headless Chromium (Debian's `chromium`) over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: no port, no extra package), for the dashboard's tests.

Usage: browser.py ACTIONS_JSON
ACTIONS_JSON is a list of steps, run in order:
  {"goto": URL}                                  load a page (waits for its load event)
  {"wait": JS_EXPR, "timeout": SECS}             until the expression is truthy (else fails)
  {"eval": JS_EXPR, "as": NAME}                  its value (JSON) is put in the result under NAME
  {"screenshot": PATH, "width": W, "height": H}  a PNG of the whole page
  {"header": {NAME: VALUE}}                      extra HTTP headers on every later request
Prints one JSON object: the evaluated values, every console message and page error (`console`),
and every CSP or other violation the browser reported (`violations`).
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self):
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        self.profile = tempfile.mkdtemp(prefix="garnet-chromium-")
        cmd = (
            "exec chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars"
            " --disable-background-networking --disable-component-update --disable-sync"
            f" --remote-debugging-pipe --user-data-dir={self.profile} about:blank"
            f" 3<&{to_chrome_r} 4>&{from_chrome_w}"
        )
        self.proc = subprocess.Popen(
            ["sh", "-c", cmd], pass_fds=(to_chrome_r, from_chrome_w), stderr=subprocess.DEVNULL
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.w = os.fdopen(to_chrome_w, "wb", buffering=0)
        self.r = os.fdopen(from_chrome_r, "rb", buffering=0)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read(self):
        while b"\0" not in self.buf:
            chunk = self.r.read(1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.w.write(json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout):
        end = time.time() + timeout
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            # A cheap call to pump events.
            self.call("Browser.getVersion")
            time.sleep(0.05)
        raise RuntimeError(f"no {method} within {timeout} s")

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=30)
        finally:
            # The profile (about 2 MB) is this run's alone: leave nothing behind in /tmp.
            shutil.rmtree(self.profile, ignore_errors=True)


def main():
    actions = json.loads(sys.argv[1])
    b = Browser()
    out = {}
    console = []
    violations = []
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for m in ["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"]:
            b.call(m, session=s)
        for a in actions:
            if "goto" in a:
                b.events = [e for e in b.events if e.get("method") != "Page.loadEventFired"]
                b.call("Page.navigate", {"url": a["goto"]}, session=s)
                b.wait_event("Page.loadEventFired", a.get("timeout", 30))
            elif "wait" in a:
                end = time.time() + a.get("timeout", 30)
                while True:
                    r = b.call("Runtime.evaluate", {"expression": a["wait"], "returnByValue": True}, session=s)
                    if r.get("result", {}).get("value"):
                        break
                    if time.time() > end:
                        raise RuntimeError(f"`{a['wait']}` still false after {a.get('timeout', 30)} s")
                    time.sleep(0.2)
            elif "eval" in a:
                r = b.call("Runtime.evaluate", {"expression": a["eval"], "returnByValue": True}, session=s)
                if "exceptionDetails" in r:
                    raise RuntimeError(f"`{a['eval']}`: {r['exceptionDetails']}")
                out[a["as"]] = r.get("result", {}).get("value")
            elif "screenshot" in a:
                b.call(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": a.get("width", 1280), "height": a.get("height", 2000), "deviceScaleFactor": 1, "mobile": False},
                    session=s,
                )
                time.sleep(0.3)
                r = b.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=s)
                with open(a["screenshot"], "wb") as f:
                    f.write(base64.b64decode(r["data"]))
            elif "header" in a:
                b.call("Network.setExtraHTTPHeaders", {"headers": a["header"]}, session=s)
            else:
                raise RuntimeError(f"unknown action {a}")
        for e in b.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled":
                console.append({"type": p.get("type"), "text": " ".join(str(x.get("value", x.get("description", ""))) for x in p.get("args", []))})
            elif m == "Runtime.exceptionThrown":
                console.append({"type": "exception", "text": json.dumps(p.get("exceptionDetails", {}))[:500]})
            elif m == "Log.entryAdded":
                entry = p.get("entry", {})
                console.append({"type": entry.get("level"), "text": entry.get("text", "")})
                if entry.get("source") in ("security", "violation") or "Content Security Policy" in entry.get("text", ""):
                    violations.append(entry.get("text", ""))
    finally:
        b.close()
    out["console"] = console
    out["violations"] = violations
    print(json.dumps(out))


if __name__ == "__main__":
    main()
