package main

import (
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"runtime/debug"

	"github.com/klauspost/cpuid/v2"
	"github.com/spf13/cobra"

	"github.com/alignkit/align/kernels"
)

// version is set at link time with -ldflags "-X main.version=...".
var version = "dev"

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print align's version, the Go version and the detected CPU features",
		Example: "  align version\n  align version --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			info := map[string]any{
				"version":      v,
				"go":           goruntime.Version(),
				"os_arch":      goruntime.GOOS + "/" + goruntime.GOARCH,
				"cpu":          cpuid.CPU.BrandName,
				"cpu_features": cpuid.CPU.FeatureSet(),
				"kernels":      kernels.ISA(),
				"cores":        goruntime.NumCPU(),
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(info)
			}
			fmt.Fprintf(out, "align %s\n%s %s\ncpu: %s (%d cores)\nfeatures: %v\nkernels: %s\n",
				v, info["go"], info["os_arch"], info["cpu"], info["cores"], info["cpu_features"], info["kernels"])
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
