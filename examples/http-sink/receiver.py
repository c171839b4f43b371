"""A stand-in for the HTTP API the sink calls: prints each request it gets, and refuses with
400 a body that is not JSON. Usage: python3 receiver.py PORT"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        try:
            json.loads(body)
            status, answer = 200, '{"received":true}'
        except ValueError:
            status, answer = 400, '{"error":"not JSON"}'
        print(f"{self.command} {self.path} {body} -> {status}", flush=True)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def do_GET(self):
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
