package kernels

// ISA names the kernel implementation chosen at init: "avx512", "avx2" or "generic".
func ISA() string { return "generic" }
