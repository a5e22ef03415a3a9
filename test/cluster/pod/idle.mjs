// An agent container that only waits (for `kubectl exec` loops and bench load); exits on SIGTERM.
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1 << 30);
