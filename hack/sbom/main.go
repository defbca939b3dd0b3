// Command sbom writes an SPDX 2.3 JSON software bill of materials for a release artifact: a Go
// binary, or a .tar.gz/.zip archive holding one or more. It lists what the Go linker recorded in each
// binary (debug/buildinfo, what `go version -m` prints): the main module, every module linked in with
// its version and go.sum hash, the Go standard library at the toolchain's version, and the build
// settings. Nothing is guessed from go.mod: a module that is required but not linked is not listed.
//
//	go run github.com/gkedoctor/gkedoctor/hack/sbom [-version V] [-date D] -o DOC ARTIFACT
//
// The release runs it from .goreleaser.yaml's sboms (GoReleaser's default, syft, is not a Go module
// this project can build); it imports only the standard library, so `go run` needs no downloads.
// -date (RFC 3339 or YYYY-MM-DD; default $SOURCE_DATE_EPOCH, else now) stamps the document, so a
// release's SBOM is reproducible from its commit.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	toolName  = "gkedoctor-sbom"
	namespace = "https://github.com/gkedoctor/gkedoctor/spdx/"
	// maxMember bounds one file read out of an archive (the binary is ~90 MB).
	maxMember = 1 << 30
)

func main() {
	version := flag.String("version", "", "the release version of the main module (Go stamps (devel) for a local build)")
	date := flag.String("date", "", "the document's creation time, RFC 3339 or YYYY-MM-DD (default: $SOURCE_DATE_EPOCH, else now)")
	out := flag.String("o", "", "write the document to this file (required)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: sbom [-version V] [-date D] -o DOC ARTIFACT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	created, err := creationTime(*date, os.Getenv("SOURCE_DATE_EPOCH"), time.Now)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(2)
	}
	doc, err := Generate(flag.Arg(0), *version, created)
	if err == nil {
		err = write(*out, doc)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
}

func creationTime(flagDate, epoch string, now func() time.Time) (time.Time, error) {
	if flagDate != "" {
		d, err := time.Parse(time.RFC3339, flagDate)
		if err != nil {
			d, err = time.Parse(time.DateOnly, flagDate)
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("-date %q is neither RFC 3339 nor YYYY-MM-DD", flagDate)
		}
		if d.Year() > 1 { // GoReleaser's CommitDate is the zero time when it cannot read the commit
			return d.UTC(), nil
		}
	}
	if epoch != "" {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", epoch)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return now().UTC(), nil
}

func write(path string, doc *Document) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Document is an SPDX 2.3 document in its JSON form (the fields this tool writes).
type Document struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      CreationInfo   `json:"creationInfo"`
	Packages          []Package      `json:"packages"`
	Relationships     []Relationship `json:"relationships"`
}

type CreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type Package struct {
	Name                  string        `json:"name"`
	SPDXID                string        `json:"SPDXID"`
	VersionInfo           string        `json:"versionInfo,omitempty"`
	PackageFileName       string        `json:"packageFileName,omitempty"`
	Supplier              string        `json:"supplier,omitempty"`
	DownloadLocation      string        `json:"downloadLocation"`
	FilesAnalyzed         bool          `json:"filesAnalyzed"`
	Checksums             []Checksum    `json:"checksums,omitempty"`
	LicenseConcluded      string        `json:"licenseConcluded"`
	LicenseDeclared       string        `json:"licenseDeclared"`
	CopyrightText         string        `json:"copyrightText"`
	PrimaryPackagePurpose string        `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs          []ExternalRef `json:"externalRefs,omitempty"`
	Comment               string        `json:"comment,omitempty"`
}

type Checksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type ExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type Relationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

// binary is one Go executable found in the artifact.
type binary struct {
	name   string // path inside the archive, or the file's base name
	sha256 string
	info   *debug.BuildInfo
}

// Generate reads the artifact (a Go binary, or a .tar.gz/.tgz/.zip holding Go binaries) and returns
// its SBOM. version, when set, is the main module's release version.
func Generate(path, version string, created time.Time) (*Document, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(path)
	var bins []binary
	isArchive := true
	switch {
	case strings.HasSuffix(base, ".tar.gz") || strings.HasSuffix(base, ".tgz"):
		bins, err = fromTarGz(raw)
	case strings.HasSuffix(base, ".zip"):
		bins, err = fromZip(raw)
	default:
		isArchive = false
		var b *binary
		b, err = readBinary(base, raw)
		if b != nil {
			bins = []binary{*b}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(bins) == 0 {
		return nil, fmt.Errorf("%s: no Go binary in it (nothing carries Go build information)", path)
	}
	sum := sha256.Sum256(raw)
	g := &generator{ids: map[string]int{}}
	doc := &Document{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              base,
		DocumentNamespace: namespace + base + "-" + hex.EncodeToString(sum[:8]),
		CreationInfo: CreationInfo{
			Created:  created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: " + toolName, "Organization: gkedoctor"},
		},
	}
	if isArchive {
		root := Package{
			Name: base, SPDXID: g.id("Archive-" + base), PackageFileName: base,
			DownloadLocation: "NOASSERTION", Checksums: []Checksum{{"SHA256", hex.EncodeToString(sum[:])}},
			PrimaryPackagePurpose: "ARCHIVE",
		}
		doc.add(root)
		doc.rel("SPDXRef-DOCUMENT", "DESCRIBES", root.SPDXID)
		for _, b := range bins {
			doc.rel(root.SPDXID, "CONTAINS", g.binary(doc, b, version))
		}
	} else {
		doc.rel("SPDXRef-DOCUMENT", "DESCRIBES", g.binary(doc, bins[0], version))
	}
	return doc, nil
}

type generator struct {
	ids     map[string]int
	modules map[string]string // "path@version" → SPDXID, shared by the binaries of one archive
}

// id makes a unique SPDX identifier (letters, digits, '.' and '-') from s.
func (g *generator) id(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	id := "SPDXRef-" + b.String()
	g.ids[id]++
	if n := g.ids[id]; n > 1 {
		id += "-" + strconv.Itoa(n)
	}
	return id
}

func (d *Document) add(p Package) {
	if p.LicenseConcluded == "" {
		p.LicenseConcluded = "NOASSERTION"
	}
	if p.LicenseDeclared == "" {
		p.LicenseDeclared = "NOASSERTION"
	}
	if p.CopyrightText == "" {
		p.CopyrightText = "NOASSERTION"
	}
	d.Packages = append(d.Packages, p)
}

func (d *Document) rel(a, typ, b string) {
	d.Relationships = append(d.Relationships, Relationship{a, typ, b})
}

// binary adds the main module of one binary and what it links, and returns the main package's id.
func (g *generator) binary(doc *Document, b binary, version string) string {
	info := b.info
	mainVersion := info.Main.Version
	if version != "" {
		mainVersion = "v" + strings.TrimPrefix(version, "v")
	}
	var settings []string
	for _, s := range info.Settings {
		settings = append(settings, s.Key+"="+s.Value)
	}
	app := Package{
		Name: info.Main.Path, SPDXID: g.id("Package-go-module-" + info.Main.Path + "-" + b.name),
		VersionInfo: mainVersion, PackageFileName: b.name, DownloadLocation: "NOASSERTION",
		Checksums:             []Checksum{{"SHA256", b.sha256}},
		PrimaryPackagePurpose: "APPLICATION",
		ExternalRefs:          purl(info.Main.Path, mainVersion),
		Comment: fmt.Sprintf("Go binary %s (package %s) built with %s; build settings: %s",
			b.name, info.Path, info.GoVersion, strings.Join(settings, " ")),
	}
	doc.add(app)
	if g.modules == nil {
		g.modules = map[string]string{}
	}
	stdVersion := info.GoVersion
	deps := append([]*debug.Module{{Path: "stdlib", Version: stdVersion}}, info.Deps...)
	sort.SliceStable(deps[1:], func(i, j int) bool { return deps[1+i].Path < deps[1+j].Path })
	for _, m := range deps {
		path, ver, sum, comment := m.Path, m.Version, m.Sum, ""
		if m.Replace != nil {
			comment = fmt.Sprintf("replaces %s@%s", m.Path, m.Version)
			path, ver, sum = m.Replace.Path, m.Replace.Version, m.Replace.Sum
		}
		key := path + "@" + ver
		id, ok := g.modules[key]
		if !ok {
			id = g.id("Package-go-module-" + key)
			g.modules[key] = id
			if sum != "" {
				if comment != "" {
					comment += "; "
				}
				comment += "go.sum " + sum
			}
			p := Package{Name: path, SPDXID: id, VersionInfo: ver, DownloadLocation: "NOASSERTION",
				PrimaryPackagePurpose: "LIBRARY", ExternalRefs: purl(path, ver), Comment: comment}
			if path == "stdlib" {
				p.Comment = "the Go standard library and runtime of the toolchain that built the binary"
			}
			doc.add(p)
		}
		doc.rel(app.SPDXID, "DEPENDS_ON", id)
	}
	return app.SPDXID
}

// purl is the package URL of a Go module (pkg:golang/PATH@VERSION; the path's segments are kept,
// characters outside the unreserved set are percent-encoded).
func purl(path, version string) []ExternalRef {
	if path == "" {
		return nil
	}
	loc := "pkg:golang/" + escape(path)
	if version != "" && version != "(devel)" {
		loc += "@" + escape(version)
	}
	return []ExternalRef{{"PACKAGE-MANAGER", "purl", loc}}
}

func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' || c == '.' || c == '-' || c == '_' || c == '~' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// readBinary returns the Go build information of raw, nil if raw is not a Go binary.
func readBinary(name string, raw []byte) (*binary, error) {
	info, err := buildinfo.Read(bytes.NewReader(raw))
	if err != nil {
		return nil, nil // not a Go binary (a README, a man page): not part of the bill
	}
	sum := sha256.Sum256(raw)
	return &binary{name: name, sha256: hex.EncodeToString(sum[:]), info: info}, nil
}

func fromTarGz(raw []byte) ([]binary, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var bins []binary
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return bins, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxMember {
			return nil, fmt.Errorf("%s is %d bytes, more than this tool reads", h.Name, h.Size)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxMember))
		if err != nil {
			return nil, err
		}
		if b, _ := readBinary(h.Name, data); b != nil {
			bins = append(bins, *b)
		}
	}
}

func fromZip(raw []byte) ([]binary, error) {
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, err
	}
	var bins []binary
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || f.UncompressedSize64 > maxMember {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxMember))
		rc.Close()
		if err != nil {
			return nil, err
		}
		if b, _ := readBinary(f.Name, data); b != nil {
			bins = append(bins, *b)
		}
	}
	return bins, nil
}
