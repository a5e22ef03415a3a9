// Pod start bench: the agent container prints when it started (wall clock, ms) and exits.
console.log(JSON.stringify({ event: 'started', at: Date.now() }));
