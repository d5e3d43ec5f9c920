// Command tiles generates tests/vectors/go_tlog_tiles.json: tree heads, C2SP
// tlog-tiles hash tiles, inclusion proofs and consistency proofs computed by
// golang.org/x/mod/sumdb/tlog for a log whose leaf i (0-based) is the ASCII
// string "leaf-<i>".
//
// It imports golang.org/x/mod/sumdb/tlog and contains no library code. The
// naive RFC 6962 Merkle Tree Hash below is an independent cross-check written
// for this generator from RFC 6962 section 2.1; the program exits non-zero if
// tlog and the cross-check ever disagree.
//
// See ../README.md for how to run it.
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

var (
	outPath     = flag.String("o", "go_tlog_tiles.json", "output file")
	xmodVersion = flag.String("xmod-version", "unknown", "version of golang.org/x/mod being compiled against (recorded in the output)")
)

// Sizes for which tree heads and tiles are recorded: 1..600 plus these.
var extraSizes = []int64{65535, 65536, 65537, 70000}

// (index, size) pairs for inclusion proofs.
var inclusionPairs = [][2]int64{{0, 1}, {5, 600}, {255, 256}, {256, 600}, {599, 600}, {12345, 70000}, {69999, 70000}}

// (old, new) pairs for consistency proofs.
var consistencyPairs = [][2]int64{{1, 600}, {256, 600}, {300, 600}, {65536, 70000}, {600, 70000}}

// (old, new) pairs for which the raw output of tlog.NewTiles(8, old, new) is recorded.
var newTilesPairs = [][2]int64{{0, 1}, {0, 600}, {256, 600}, {599, 600}, {65535, 65537}, {65536, 70000}}

func leaf(i int64) []byte { return []byte(fmt.Sprintf("leaf-%d", i)) }

// hashStore keeps every stored hash of the log in tlog's stored-hash order.
type hashStore []tlog.Hash

func (s *hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(*s)) {
			return nil, fmt.Errorf("stored hash index %d out of range (have %d)", x, len(*s))
		}
		out[i] = (*s)[x]
	}
	return out, nil
}

// --- independent RFC 6962 cross-check --------------------------------------

func naiveMTH(leafHashes []tlog.Hash) tlog.Hash {
	n := len(leafHashes)
	if n == 1 {
		return leafHashes[0]
	}
	k := 1
	for k*2 < n {
		k *= 2
	}
	l, r := naiveMTH(leafHashes[:k]), naiveMTH(leafHashes[k:])
	buf := append([]byte{0x01}, l[:]...)
	buf = append(buf, r[:]...)
	return sha256.Sum256(buf)
}

func naiveLeafHash(data []byte) tlog.Hash {
	return sha256.Sum256(append([]byte{0x00}, data...))
}

// c2spPath formats a tile path following C2SP tlog-tiles ("tile/<L>/<N>[.p/<W>]")
// directly from the spec text, independently of tlog.Tile.Path.
func c2spPath(level int, n int64, w int) string {
	elems := []string{fmt.Sprintf("%03d", n%1000)}
	for n >= 1000 {
		n /= 1000
		elems = append([]string{fmt.Sprintf("x%03d", n%1000)}, elems...)
	}
	p := fmt.Sprintf("tile/%d/%s", level, strings.Join(elems, "/"))
	if w != 1<<tileHeight {
		p += fmt.Sprintf(".p/%d", w)
	}
	return p
}

// fromGoPath converts Go's "tile/8/L/N[.p/W]" to C2SP "tile/L/N[.p/W]".
func fromGoPath(p string) string {
	const prefix = "tile/8/"
	if !strings.HasPrefix(p, prefix) {
		log.Fatalf("unexpected Go tile path %q", p)
	}
	return "tile/" + strings.TrimPrefix(p, prefix)
}

// --- output types ------------------------------------------------------------

type tileJSON struct {
	Path   string `json:"path"`
	GoPath string `json:"go_path,omitempty"`
	Level  int    `json:"level"`
	N      int64  `json:"n"`
	Width  int    `json:"width"`
	SHA256 string `json:"sha256"`
}

type sizeJSON struct {
	Size  int64      `json:"size"`
	Root  string     `json:"root"`
	Tiles []tileJSON `json:"tiles"`
}

type inclusionJSON struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	Leaf     string   `json:"leaf"`
	LeafHash string   `json:"leaf_hash"`
	Root     string   `json:"root"`
	Proof    []string `json:"proof"`
}

type consistencyJSON struct {
	Old     int64    `json:"old"`
	New     int64    `json:"new"`
	OldRoot string   `json:"old_root"`
	NewRoot string   `json:"new_root"`
	Proof   []string `json:"proof"`
}

type newTilesJSON struct {
	Old   int64      `json:"old"`
	New   int64      `json:"new"`
	Tiles []tileJSON `json:"tiles"`
}

// compact returns the single-line JSON encoding of v, without HTML escaping.
func compact(v interface{}) string {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		log.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func b64s(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = b64(h)
	}
	return out
}

func main() {
	log.SetFlags(0)
	flag.Parse()

	maxSize := int64(600)
	for _, n := range extraSizes {
		if n > maxSize {
			maxSize = n
		}
	}

	// Build the log with tlog.StoredHashes, as a tlog server would.
	store := &hashStore{}
	leafHashes := make([]tlog.Hash, 0, maxSize)
	for i := int64(0); i < maxSize; i++ {
		hs, err := tlog.StoredHashes(i, leaf(i), store)
		if err != nil {
			log.Fatalf("StoredHashes(%d): %v", i, err)
		}
		*store = append(*store, hs...)
		rh := tlog.RecordHash(leaf(i))
		if rh != naiveLeafHash(leaf(i)) {
			log.Fatalf("RecordHash(%d) disagrees with SHA-256(0x00||leaf)", i)
		}
		leafHashes = append(leafHashes, rh)
	}
	if int64(len(*store)) != tlog.StoredHashCount(maxSize) {
		log.Fatalf("stored hash count %d != StoredHashCount(%d)=%d", len(*store), maxSize, tlog.StoredHashCount(maxSize))
	}

	// naive subtree hash at tile level l, index i: MTH(D[i*256^l : (i+1)*256^l]).
	naiveCache := map[[2]int64]tlog.Hash{}
	naiveTileHash := func(level int, i int64) tlog.Hash {
		k := [2]int64{int64(level), i}
		if h, ok := naiveCache[k]; ok {
			return h
		}
		span := int64(1) << (tileHeight * uint(level))
		h := naiveMTH(leafHashes[i*span : (i+1)*span])
		naiveCache[k] = h
		return h
	}

	checkedTiles := map[string]string{} // C2SP path -> sha256 hex, to assert tile immutability across sizes
	tileOut := func(t tlog.Tile) tileJSON {
		if t.H != tileHeight || t.L < 0 {
			log.Fatalf("unexpected tile %+v", t)
		}
		goPath := t.Path()
		path := fromGoPath(goPath)
		if p2 := c2spPath(t.L, t.N, t.W); p2 != path {
			log.Fatalf("path mismatch: Go %q -> %q, spec formatter %q", goPath, path, p2)
		}
		data, err := tlog.ReadTileData(t, store)
		if err != nil {
			log.Fatalf("ReadTileData(%s): %v", goPath, err)
		}
		if len(data) != t.W*tlog.HashSize {
			log.Fatalf("ReadTileData(%s): %d bytes, want %d", goPath, len(data), t.W*tlog.HashSize)
		}
		sum := sha256.Sum256(data)
		sumHex := hex.EncodeToString(sum[:])
		if prev, ok := checkedTiles[path]; ok {
			if prev != sumHex {
				log.Fatalf("tile %s has two different contents", path)
			}
		} else {
			// Cross-check every hash of the tile against the spec's formula.
			for j := 0; j < t.W; j++ {
				want := naiveTileHash(t.L, t.N<<tileHeight+int64(j))
				if string(data[j*tlog.HashSize:(j+1)*tlog.HashSize]) != string(want[:]) {
					log.Fatalf("tile %s hash %d disagrees with naive MTH", path, j)
				}
			}
			checkedTiles[path] = sumHex
		}
		return tileJSON{Path: path, Level: t.L, N: t.N, Width: t.W, SHA256: sumHex}
	}

	sizes := []int64{}
	for n := int64(1); n <= 600; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, extraSizes...)

	roots := map[int64]tlog.Hash{}
	var sizeLines []string
	for _, n := range sizes {
		root, err := tlog.TreeHash(n, store)
		if err != nil {
			log.Fatalf("TreeHash(%d): %v", n, err)
		}
		if root != naiveMTH(leafHashes[:n]) {
			log.Fatalf("TreeHash(%d) disagrees with naive MTH", n)
		}
		roots[n] = root

		// The C2SP tlog-tiles representation of a tree of size n: at each level
		// l with n>>(8l) > 0, floor(n/256^(l+1)) full tiles and, if
		// floor(n/256^l) mod 256 != 0, one partial tile of that width.
		type key struct {
			L int
			N int64
			W int
		}
		want := []key{}
		for l := 0; n>>(tileHeight*uint(l)) > 0; l++ {
			nl := n >> (tileHeight * uint(l))
			for i := int64(0); i < nl>>tileHeight; i++ {
				want = append(want, key{l, i, 1 << tileHeight})
			}
			if w := int(nl & (1<<tileHeight - 1)); w != 0 {
				want = append(want, key{l, nl >> tileHeight, w})
			}
		}
		// tlog.NewTiles(8, 0, n) returns those tiles plus, for each rightmost
		// partial tile, every narrower partial tile at the same position (the
		// partial tiles of all intermediate tree sizes). Keep the C2SP set,
		// and check that NewTiles' extra tiles are exactly those narrower ones.
		all := tlog.NewTiles(tileHeight, 0, n)
		inWant := map[key]bool{}
		for _, k := range want {
			inWant[k] = true
		}
		var chosen []tlog.Tile
		for _, t := range all {
			k := key{t.L, t.N, t.W}
			if inWant[k] {
				chosen = append(chosen, t)
				delete(inWant, k)
				continue
			}
			nl := n >> (tileHeight * uint(t.L))
			if t.N != nl>>tileHeight || t.W >= int(nl&(1<<tileHeight-1)) {
				log.Fatalf("size %d: NewTiles returned unexpected tile %+v", n, t)
			}
		}
		if len(inWant) != 0 {
			log.Fatalf("size %d: NewTiles is missing C2SP tiles %v", n, inWant)
		}
		if len(chosen) != len(want) {
			log.Fatalf("size %d: chose %d tiles, want %d", n, len(chosen), len(want))
		}
		entry := sizeJSON{Size: n, Root: b64(root)}
		for _, t := range chosen {
			entry.Tiles = append(entry.Tiles, tileOut(t))
		}
		sizeLines = append(sizeLines, compact(entry))
	}

	// Spec examples (C2SP tlog-tiles, "Partial Tiles").
	countTiles := func(n int64) (full, partial map[int][]int) {
		full, partial = map[int][]int{}, map[int][]int{}
		var e sizeJSON
		for _, l := range sizeLines {
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				log.Fatal(err)
			}
			if e.Size == n {
				break
			}
		}
		if e.Size != n {
			log.Fatalf("size %d not recorded", n)
		}
		for _, t := range e.Tiles {
			if t.Width == 256 {
				full[t.Level] = append(full[t.Level], t.Width)
			} else {
				partial[t.Level] = append(partial[t.Level], t.Width)
			}
		}
		return
	}
	if f, p := countTiles(70000); len(f[0]) != 273 || fmt.Sprint(p[0]) != "[112]" || len(f[1]) != 1 || fmt.Sprint(p[1]) != "[17]" || len(f[2]) != 0 || fmt.Sprint(p[2]) != "[1]" {
		log.Fatalf("size 70000 does not match the C2SP tlog-tiles example: full=%v partial=%v", f, p)
	}
	if f, p := countTiles(256); len(f[0]) != 1 || len(p[0]) != 0 || len(f[1]) != 0 || fmt.Sprint(p[1]) != "[1]" {
		log.Fatalf("size 256 does not match the C2SP tlog-tiles example: full=%v partial=%v", f, p)
	}

	var incl []inclusionJSON
	for _, pr := range inclusionPairs {
		i, n := pr[0], pr[1]
		p, err := tlog.ProveRecord(n, i, store)
		if err != nil {
			log.Fatalf("ProveRecord(%d, %d): %v", n, i, err)
		}
		root := roots[n]
		if (root == tlog.Hash{}) {
			log.Fatalf("no root for size %d", n)
		}
		if err := tlog.CheckRecord(p, n, root, i, leafHashes[i]); err != nil {
			log.Fatalf("CheckRecord(%d, %d): %v", i, n, err)
		}
		incl = append(incl, inclusionJSON{Index: i, Size: n, Leaf: string(leaf(i)), LeafHash: b64(leafHashes[i]), Root: b64(root), Proof: b64s(p)})
	}

	var cons []consistencyJSON
	for _, pr := range consistencyPairs {
		o, n := pr[0], pr[1]
		p, err := tlog.ProveTree(n, o, store)
		if err != nil {
			log.Fatalf("ProveTree(%d, %d): %v", n, o, err)
		}
		if err := tlog.CheckTree(p, n, roots[n], o, roots[o]); err != nil {
			log.Fatalf("CheckTree(%d, %d): %v", n, o, err)
		}
		cons = append(cons, consistencyJSON{Old: o, New: n, OldRoot: b64(roots[o]), NewRoot: b64(roots[n]), Proof: b64s(p)})
	}

	var nts []newTilesJSON
	for _, pr := range newTilesPairs {
		o, n := pr[0], pr[1]
		e := newTilesJSON{Old: o, New: n}
		for _, t := range tlog.NewTiles(tileHeight, o, n) {
			tj := tileOut(t)
			tj.GoPath = t.Path()
			e.Tiles = append(e.Tiles, tj)
		}
		nts = append(nts, e)
	}

	leafHashExamples := map[string]string{}
	for _, i := range []int64{0, 1, 255, 256, 599} {
		leafHashExamples[string(leaf(i))] = b64(leafHashes[i])
	}

	description := "Generated with golang.org/x/mod/sumdb/tlog. Log: leaf i (0-based) is the ASCII bytes \"leaf-<i>\" (no newline); " +
		"leaf hash = tlog.RecordHash = SHA-256(0x00 || leaf) (RFC 6962). Tile height 8 (C2SP tlog-tiles). " +
		"sizes[]: for each tree size, root = base64(tlog.TreeHash) and tiles = the C2SP tlog-tiles hash tiles " +
		"that represent a tree of that size (all full tiles plus, per level, the one partial tile of width " +
		"floor(size/256^level) mod 256 if non-zero), taken from tlog.NewTiles(8, 0, size) (which additionally lists every " +
		"narrower partial tile at the rightmost position; those are omitted here and are the tiles of smaller sizes), " +
		"with path = Go's tile path without the height element, and sha256 = lowercase hex SHA-256 of tlog.ReadTileData " +
		"(the concatenated 32-byte hashes, width*32 bytes). No entry-bundle/data tiles. " +
		"inclusion[]: tlog.ProveRecord(size, index), checked with tlog.CheckRecord. consistency[]: tlog.ProveTree(new, old), checked with tlog.CheckTree. " +
		"go_newtiles[]: the raw, unfiltered output of tlog.NewTiles(8, old, new) (go_path is Go's own path). All hashes are standard padded base64. " +
		"Note tlog.TreeHash(0) is 32 zero bytes, whereas RFC 6962 / C2SP define the empty tree hash as SHA-256(\"\"); size 0 is not recorded."

	var b strings.Builder
	field := func(name string, v interface{}, last bool) {
		fmt.Fprintf(&b, " %s: %s", compact(name), compact(v))
		if !last {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	list := func(name string, items []string, indent string, last bool) {
		fmt.Fprintf(&b, "%s%s: [\n", indent, compact(name))
		for i, it := range items {
			b.WriteString(indent + " " + it)
			if i != len(items)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(indent + "]")
		if !last {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("{\n")
	field("description", description, false)
	field("generator", "tests/vectors/generate/tiles/main.go", false)
	field("go_version", runtime.Version(), false)
	field("xmod_version", *xmodVersion, false)
	field("library", "golang.org/x/mod/sumdb/tlog", false)
	field("license", "output of golang.org/x/mod (BSD-3-Clause) code; no library code is included", false)
	field("tile_height", tileHeight, false)
	field("leaf_format", "leaf-%d", false)
	field("leaf_hash_examples", leafHashExamples, false)
	var items []string
	for _, x := range incl {
		items = append(items, compact(x))
	}
	list("inclusion", items, " ", false)
	items = nil
	for _, x := range cons {
		items = append(items, compact(x))
	}
	list("consistency", items, " ", false)
	b.WriteString(" \"go_newtiles\": [\n")
	for i, x := range nts {
		fmt.Fprintf(&b, "  {\"old\": %d, \"new\": %d,\n", x.Old, x.New)
		items = nil
		for _, t := range x.Tiles {
			items = append(items, compact(t))
		}
		list("tiles", items, "   ", true)
		b.WriteString("  }")
		if i != len(nts)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(" ],\n")
	list("sizes", sizeLines, " ", true)
	b.WriteString("}\n")

	// Make sure the result is valid JSON before writing it.
	var check map[string]interface{}
	if err := json.Unmarshal([]byte(b.String()), &check); err != nil {
		log.Fatalf("generated invalid JSON: %v", err)
	}
	if err := os.WriteFile(*outPath, []byte(b.String()), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s: %d sizes, %d distinct tiles checked, %d inclusion proofs, %d consistency proofs",
		*outPath, len(sizeLines), len(checkedTiles), len(incl), len(cons))
}
