//go:build !amd64 || purego

package kernels

func archImpls() []*impl { return nil }
