// ringlock/debug: registers the debug build of the engine, which exports
// validate() (every invariant of every lock, checked). For tests: import it
// once per thread before creating or adopting an engine with { debug: true }.

import { DEBUG_WASM } from "./engine-wasm-debug.js";
import { registerDebugEngine } from "./wasm.js";

registerDebugEngine(DEBUG_WASM);
