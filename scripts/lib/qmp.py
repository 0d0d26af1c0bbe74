#!/usr/bin/env python3
"""One QMP command to a QEMU started with `-qmp unix:SOCKET,server=on,wait=off` (scripts/lib/vm.sh).

    qmp.py SOCKET COMMAND [ARGUMENTS_JSON [EVENT SECONDS]]

Prints the command's "return" value as JSON. With EVENT, waits on the same connection until QEMU
sends that event (e.g. DEVICE_DELETED after device_del) and prints it too: QEMU sends events only
to connected clients. Exit status 0 on success, 1 when QEMU answers with an error or the event does
not come in time, 2 for a usage error or no connection.
"""
import json
import socket
import sys
import time


def main(argv):
    if len(argv) not in (3, 4, 6):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, command = argv[1], argv[2]
    arguments = json.loads(argv[3]) if len(argv) >= 4 and argv[3] else None
    event, seconds = (argv[4], float(argv[5])) if len(argv) == 6 else (None, 0.0)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
    except OSError as error:
        print(f"qmp.py: cannot connect to {path}: {error}", file=sys.stderr)
        return 2
    stream = sock.makefile("rw", encoding="utf-8", newline="\n")

    def send(message):
        stream.write(json.dumps(message) + "\n")
        stream.flush()

    def receive(deadline=None):
        sock.settimeout(None if deadline is None else max(0.01, deadline - time.monotonic()))
        line = stream.readline()
        if not line:
            raise EOFError("QEMU closed the QMP connection")
        return json.loads(line)

    events = []
    try:
        receive()  # the greeting
        send({"execute": "qmp_capabilities"})
        while "return" not in (reply := receive()):
            if "error" in reply:
                print(f"qmp.py: qmp_capabilities: {reply['error']}", file=sys.stderr)
                return 1
        message = {"execute": command}
        if arguments is not None:
            message["arguments"] = arguments
        send(message)
        while True:
            reply = receive()
            if "event" in reply:
                events.append(reply)
                continue
            if "error" in reply:
                print(f"qmp.py: {command}: {reply['error'].get('desc', reply['error'])}", file=sys.stderr)
                return 1
            print(json.dumps(reply.get("return")))
            break
        if event:
            deadline = time.monotonic() + seconds
            while not any(e["event"] == event for e in events):
                try:
                    reply = receive(deadline)
                except (TimeoutError, socket.timeout):
                    print(f"qmp.py: no {event} within {seconds:g} s after {command}", file=sys.stderr)
                    return 1
                if "event" in reply:
                    events.append(reply)
            print(json.dumps(next(e for e in events if e["event"] == event)))
    except (OSError, EOFError, ValueError) as error:
        print(f"qmp.py: {command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
