// Runs before every test file: a WebSocket frame a TestClient received that does not match its docs/protocol schema fails the test it arrived in.
import { afterAll, afterEach } from 'vitest';
import { takeFrameFailures } from './helpers/ws-client.js';

function check(): void {
  const failures = takeFrameFailures();
  if (failures.length === 0) return;
  const shown = failures.slice(0, 5).join('\n  ');
  throw new Error(`${failures.length} server frame(s) do not match the protocol's JSON Schemas:\n  ${shown}${failures.length > 5 ? '\n  …' : ''}`);
}

afterEach(check);
// Frames that arrive after the last test (while afterAll stops the server) are checked too.
afterAll(check);
