/**
 * Loaded before the test files (bunfig.toml). An afterAll here runs once, after the last
 * file; one in a helper module would belong to whichever file loaded the helper first.
 */
import { afterAll } from "bun:test";
import { killLiveProcesses } from "./peers.ts";

afterAll(killLiveProcesses);
