// Package layers has no code of its own: its test holds align's package dependency table (the
// architecture's "each package has one job" in import form) and fails when a package imports
// outside it, or when anything but the runtime package opens a client to Ollama.
package layers
