// Registers the debug engine for every test file (see vitest.config.ts).
import "../bindings/debug.js";
import "../dist/bindings/debug.js";
