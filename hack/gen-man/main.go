// Command gen-man writes gkedoctor's man pages into a directory, and with -completions the shell
// completion scripts into another:
//
//	go run ./hack/gen-man [-date 2006-01-02] [-completions DIR] DIR
//
// The release runs it as a before hook (.goreleaser.yaml) and ships both in the archives. -date (or
// SOURCE_DATE_EPOCH) stamps the pages; the default is today.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/docgen"
)

func main() {
	dateFlag := flag.String("date", "", "the date printed in the pages, YYYY-MM-DD or RFC 3339 (default: $SOURCE_DATE_EPOCH, else today)")
	completions := flag.String("completions", "", "also write the bash, zsh, fish and PowerShell completion scripts into this directory")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: gen-man [-date YYYY-MM-DD] [-completions DIR] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	date := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen-man: SOURCE_DATE_EPOCH=%q is not a number of seconds\n", s)
			os.Exit(2)
		}
		date = time.Unix(sec, 0).UTC()
	}
	if *dateFlag != "" {
		d, err := time.Parse(time.DateOnly, *dateFlag)
		if err != nil {
			d, err = time.Parse(time.RFC3339, *dateFlag)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen-man: -date %q is not YYYY-MM-DD\n", *dateFlag)
			os.Exit(2)
		}
		if d.Year() > 1 { // GoReleaser's CommitDate is the zero time when it cannot read the commit
			date = d
		}
	}
	if err := docgen.Generate(flag.Arg(0), date); err != nil {
		fmt.Fprintln(os.Stderr, "gen-man:", err)
		os.Exit(1)
	}
	if *completions != "" {
		if err := docgen.Completions(*completions); err != nil {
			fmt.Fprintln(os.Stderr, "gen-man:", err)
			os.Exit(1)
		}
	}
}
