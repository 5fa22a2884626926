// Start / stop a vexfs-unified-server for the JS compatibility tests.
// Loopback only: 127.0.0.1 on a free port, storage in a fresh temp dir.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..', '..');
const HOST = '127.0.0.1';
const STOP_TIMEOUT_MS = 15000;
const READY_TIMEOUT_MS = Number(process.env.VEXFS_READY_TIMEOUT ?? 20) * 1000;

export function serverBinary() {
  const bin = process.env.VEXFS_BIN || path.join(REPO, 'target', 'release', 'vexfs-unified-server');
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`vexfs-unified-server binary not found or not executable: ${bin} ` +
      '(build it or set VEXFS_BIN)');
  }
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Server {
  constructor() {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vexfs-compat-js-'));
    this.storage = path.join(this.tmp, 'storage');
    fs.mkdirSync(this.storage);
    this.logPath = path.join(this.tmp, 'server.log');
    this.proc = null;
    this.exited = null;
  }

  async start() {
    const bin = serverBinary();
    this.port = await freePort();
    this.url = `http://${HOST}:${this.port}`;
    const log = fs.openSync(this.logPath, 'a');
    const argv = ['--host', HOST, '--port', String(this.port), '--storage-path', this.storage,
      '--cores', '2'];
    this.proc = spawn(bin, argv, {
      stdio: ['ignore', log, log],
      env: { RUST_BACKTRACE: '1', ...process.env },
    });
    fs.closeSync(log);
    this.proc.on('exit', (code, signal) => { this.exited = { code, signal }; });
    // Never leave a server behind if the test process dies early.
    const child = this.proc;
    process.once('exit', () => { if (!this.exited) child.kill('SIGKILL'); });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = null;
    while (Date.now() < deadline) {
      if (this.exited) {
        throw new Error(`server exited (${JSON.stringify(this.exited)}) before becoming ready\n` +
          this.logTail());
      }
      try {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) });
        last = res.status;
        await res.arrayBuffer();
        if (res.status === 200) return this;
      } catch (e) {
        last = e.code ?? e.message;
      }
      await sleep(50);
    }
    await this.stop();
    throw new Error(`GET /readyz did not answer 200 within ${READY_TIMEOUT_MS} ms ` +
      `(last: ${last})\n${this.logTail()}`);
  }

  logTail(limit = 6000) {
    try {
      const text = fs.readFileSync(this.logPath, 'utf8');
      return `--- server log (${this.logPath}) ---\n` +
        (text.length > limit ? '...' + text.slice(-limit) : text);
    } catch {
      return '<no server log>';
    }
  }

  async stop() {
    const p = this.proc;
    if (p && !this.exited) {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      let timer;
      const timeout = new Promise((r) => { timer = setTimeout(() => r(false), STOP_TIMEOUT_MS); });
      const ok = await Promise.race([done.then(() => true), timeout]);
      clearTimeout(timer);
      if (!ok) {
        p.kill('SIGKILL');
        await done;
        throw new Error(`server did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM ` +
          `(it was SIGKILLed)\n${this.logTail()}`);
      }
    }
    this.proc = null;
  }

  async close() {
    try {
      await this.stop();
    } finally {
      if (process.env.VEXFS_COMPAT_KEEP_TMP) {
        console.log(`[compat-js] kept ${this.tmp}`);
      } else {
        fs.rmSync(this.tmp, { recursive: true, force: true });
      }
    }
  }
}
