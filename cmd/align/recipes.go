package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/alignkit/align/recipes"
	"github.com/spf13/cobra"
)

// newRecipesCmd lists and prints the recipes embedded in the binary.
func newRecipesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipes",
		Short: "List and show the embedded training recipes",
		Long: `Recipes are YAML files that describe a training run (docs/recipes.md). align embeds one per
objective, with the papers' defaults, plus the quickstart. Print one to start your own.`,
		Example: `  align recipes list
  align recipes list --json
  align recipes show dpo > my-dpo.yaml`,
	}
	var asJSON bool
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the embedded recipes",
		Example: "  align recipes list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			infos, err := recipes.List()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tOBJECTIVE\tONLINE\tDESCRIPTION")
			for _, in := range infos {
				online := "no"
				if in.Online {
					online = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.Name, in.Objective, online, in.Description)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	show := &cobra.Command{
		Use:     "show NAME",
		Short:   "Print an embedded recipe's YAML, comments included",
		Example: "  align recipes show simpo",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := recipes.Embedded(args[0])
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(src)
			return err
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}
