// Preloaded into the demo server (node --require): exits the process when its pid file is removed
// or names another process, checked every 500 ms. A demo whose owner died without stopping it
// (its temp dir removed at exit) therefore leaves no server running. Does not keep the process alive.
'use strict';
const { readFileSync } = require('node:fs');

const pidFile = process.env.DEMO_SERVICE_PID_FILE;
if (pidFile) {
  setInterval(() => {
    let pid;
    try {
      pid = JSON.parse(readFileSync(pidFile, 'utf8')).pid;
    } catch {
      pid = undefined;
    }
    if (pid !== process.pid) {
      console.error(`pid file ${pidFile} no longer names this process (${process.pid}); exiting`);
      process.exit(0);
    }
  }, 500).unref();
}
