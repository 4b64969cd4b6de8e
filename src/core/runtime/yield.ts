// Lets queued messages (e.g. a cancel request) run between steps of a long job. `await` alone only
// drains microtasks, so a worker busy in a loop of async calls would never see the cancel arrive.
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
