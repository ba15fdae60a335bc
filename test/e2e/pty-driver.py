#!/usr/bin/env python3
"""Runs a command on a real pseudo-terminal, answering prompts like a person would.

Usage: pty-driver.py JSON  where JSON is {"argv": [...], "env": {...}, "steps": [{"expect": REGEX, "send": TEXT}],
"timeout": SECONDS, "cols": N, "cwd": DIR}. A step may instead have "send_totp": {"secret": REGEX, "ahead": SECONDS?} to answer with
the current code (or the one SECONDS ahead) (from oathtool) of the base32 secret REGEX's first group finds in the output so far, or
"send_match": REGEX to answer with what REGEX's first group finds in the output so far, or "send_command": ARGV to answer
with what ARGV prints when given the output so far on standard input, or "kill": SIGNAL (a number) to send the command that signal. Prints {"status": exit code or 128+signal, "output": everything the terminal showed,
"unmatched": the first expectation not seen, or null} as JSON.
"""
import json, os, pty, re, select, signal, struct, subprocess, sys, time, fcntl, termios

spec = json.loads(sys.argv[1])
deadline = time.time() + spec.get("timeout", 20)
pid, fd = pty.fork()
if pid == 0:
    # The size is set before the command starts, so it never reads a default one.
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, spec.get("cols", 120), 0, 0))
    env = dict(os.environ)
    # Sessions kept by login go to a runtime directory only when a test names one.
    env.pop("XDG_RUNTIME_DIR", None)
    env.update(spec.get("env", {}))
    for k in [k for k, v in env.items() if v is None]:
        del env[k]
    if spec.get("cwd"):
        os.chdir(spec["cwd"])
    os.execvpe(spec["argv"][0], spec["argv"], env)

fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, spec.get("cols", 120), 0, 0))
output = b""
unmatched = None

def read_some(wait):
    global output
    r, _, _ = select.select([fd], [], [], wait)
    if not r:
        return True
    try:
        data = os.read(fd, 65536)
    except OSError:
        return False
    if not data:
        return False
    output += data
    return True

alive = True
pos = 0
for step in spec.get("steps", []):
    pattern = re.compile(step["expect"].encode())
    while alive and not pattern.search(output, pos) and time.time() < deadline:
        alive = read_some(0.1)
    m = pattern.search(output, pos)
    if not m:
        unmatched = step["expect"]
        break
    pos = m.end()
    time.sleep(step.get("delay", 0.05))
    if "send_match" in step:
        found = re.search(step["send_match"].encode(), output)
        os.write(fd, (found.group(1) if found else b"MISSING") + b"\r")
    elif "send_totp" in step:
        found = re.search(step["send_totp"]["secret"].encode(), output)
        secret = found.group(1).decode() if found else "MISSING"
        # "ahead": seconds from now, for the code of a later step (the current one may be spent).
        when = ["--now", "@%d" % (int(time.time()) + step["send_totp"]["ahead"])] if "ahead" in step["send_totp"] else []
        code = subprocess.run(["oathtool", "--totp", "-b", secret] + when, capture_output=True, text=True).stdout.strip()
        os.write(fd, (code + "\r").encode())
    elif "kill" in step:
        os.kill(pid, step["kill"])
    elif "send_command" in step:
        # What a person would paste after running a program on what the terminal showed.
        pasted = subprocess.run(step["send_command"], input=output, capture_output=True).stdout.strip()
        os.write(fd, pasted + b"\r")
    else:
        os.write(fd, step["send"].encode())

# Read until the terminal closes (the program exited) or time runs out, then collect the status.
while alive and time.time() < deadline:
    alive = read_some(0.1)
if alive:
    os.kill(pid, signal.SIGKILL)
    unmatched = unmatched or "timeout"
_, status = os.waitpid(pid, 0)

code = os.waitstatus_to_exitcode(status)
print(json.dumps({"status": code if code >= 0 else 128 - code, "output": output.decode("utf-8", "replace"), "unmatched": unmatched}))
