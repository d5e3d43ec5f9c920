// Command cosign generates tests/vectors/cosignature_v1.json: checkpoints
// signed by a log key with golang.org/x/mod/sumdb/note and cosigned by two
// witnesses with github.com/transparency-dev/formats/note's C2SP
// tlog-cosignature (cosignature/v1, signature type 0x04) implementation.
//
// It imports those libraries and contains no library code. It cross-checks
// the library output against the C2SP specs with the standard library
// (key IDs, signed message, Ed25519 verification) and exits non-zero on any
// disagreement or failed verification.
//
// See ../README.md for how to run it.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var (
	outPath     = flag.String("o", "cosignature_v1.json", "output file")
	tilesPath   = flag.String("tiles", "go_tlog_tiles.json", "go_tlog_tiles.json to take the checkpoint roots from")
	xmodVersion = flag.String("xmod-version", "unknown", "version of golang.org/x/mod being compiled against (recorded in the output)")
)

const (
	origin         = "example.com/log"
	formatsCommit  = "404c0d5b696c6a3e4eb9cec706cfc3550cc47e52"
	fixedTimestamp = 1700000000 // 2023-11-14T22:13:20Z, for the deterministic vectors
)

var checkpointSizes = []int64{1, 15, 600}

func must(err error, what string, args ...interface{}) {
	if err != nil {
		log.Fatalf("FAIL: %s: %v", fmt.Sprintf(what, args...), err)
	}
}

func check(ok bool, what string, args ...interface{}) {
	if !ok {
		log.Fatalf("FAIL: %s", fmt.Sprintf(what, args...))
	}
}

// keyID is the C2SP signed-note key ID: SHA-256(name || 0x0A || type || pub)[:4].
func keyID(name string, sigType byte, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', sigType})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

type keyJSON struct {
	Name        string `json:"name"`
	SeedHex     string `json:"seed_hex"`
	PublicKey   string `json:"public_key_base64"`
	SKey        string `json:"skey"`
	VKey        string `json:"vkey"`
	VKeyKeyHash string `json:"vkey_key_hash"`
	// Witnesses only.
	CosigVKey    string `json:"cosignature_vkey,omitempty"`
	CosigKeyHash string `json:"cosignature_key_hash,omitempty"`
	Role         string `json:"role"`
}

type party struct {
	keyJSON
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func newParty(name, role string, seed []byte) *party {
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	h1 := keyID(name, 0x01, pub)
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h1, base64.StdEncoding.EncodeToString(append([]byte{0x01}, seed...)))
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	must(err, "NewEd25519VerifierKey(%s)", name)
	want := fmt.Sprintf("%s+%08x+%s", name, h1, base64.StdEncoding.EncodeToString(append([]byte{0x01}, pub...)))
	check(vkey == want, "x/mod vkey %q != spec-computed %q", vkey, want)
	s, err := note.NewSigner(skey) // also checks the key hash in skey
	must(err, "note.NewSigner(%s)", skey)
	check(s.KeyHash() == h1, "x/mod signer key hash %08x != %08x", s.KeyHash(), h1)
	return &party{
		keyJSON: keyJSON{Name: name, Role: role, SeedHex: fmt.Sprintf("%x", seed), PublicKey: base64.StdEncoding.EncodeToString(pub),
			SKey: skey, VKey: vkey, VKeyKeyHash: fmt.Sprintf("%08x", h1)},
		priv: priv, pub: pub,
	}
}

type sigLineJSON struct {
	Line      string `json:"line"`
	Name      string `json:"name"`
	KeyHash   string `json:"key_hash"`
	Base64    string `json:"base64"`
	Type      string `json:"type"`
	Timestamp *int64 `json:"timestamp,omitempty"`
	TimeUTC   string `json:"timestamp_utc,omitempty"`
	Signature string `json:"ed25519_signature_base64"`
	// For cosignatures: the exact message the Ed25519 signature is over.
	SignedMessage string `json:"signed_message,omitempty"`
}

type checkpointJSON struct {
	Size            int64         `json:"size"`
	Root            string        `json:"root"`
	Body            string        `json:"body"`
	LogSignedNote   string        `json:"log_signed_note"`
	CosignedNote    string        `json:"cosigned_note"`
	SignatureLines  []sigLineJSON `json:"signature_lines"`
	VerifiedWith    []string      `json:"verified_with"`
	Generator       string        `json:"generated_by"`
	FixedTimestamp  bool          `json:"fixed_timestamp"`
	OpenWithLogOnly string        `json:"open_with_log_vkey_only"`
}

type negativeJSON struct {
	Description string            `json:"description"`
	Note        string            `json:"note"`
	Expect      map[string]string `json:"expect"`
}

func splitSigLines(signed []byte, body string) []string {
	check(bytes.HasPrefix(signed, []byte(body+"\n")), "signed note does not start with body + blank line")
	rest := strings.TrimSuffix(string(signed[len(body)+1:]), "\n")
	return strings.Split(rest, "\n")
}

func describeSigLine(line string, parties map[string]*party, body string, cosig bool) sigLineJSON {
	check(strings.HasPrefix(line, "\u2014 "), "signature line %q lacks em dash prefix", line)
	f := strings.Split(strings.TrimPrefix(line, "\u2014 "), " ")
	check(len(f) == 2, "bad signature line %q", line)
	raw, err := base64.StdEncoding.DecodeString(f[1])
	must(err, "decode %q", f[1])
	p := parties[f[0]]
	check(p != nil, "unknown signer %q", f[0])
	out := sigLineJSON{Line: line + "\n", Name: f[0], KeyHash: fmt.Sprintf("%08x", binary.BigEndian.Uint32(raw)), Base64: f[1]}
	if !cosig {
		check(len(raw) == 4+64, "ed25519 note signature length %d", len(raw))
		check(out.KeyHash == p.VKeyKeyHash, "log sig key hash")
		check(ed25519.Verify(p.pub, []byte(body), raw[4:]), "stdlib ed25519.Verify of log signature")
		out.Type = "0x01 Ed25519 (C2SP signed-note)"
		out.Signature = base64.StdEncoding.EncodeToString(raw[4:])
		return out
	}
	check(len(raw) == 4+8+64, "cosignature length %d", len(raw))
	check(out.KeyHash == p.CosigKeyHash, "cosig key hash %s != %s", out.KeyHash, p.CosigKeyHash)
	ts := int64(binary.BigEndian.Uint64(raw[4:12]))
	// formats' CoSigV1Timestamp must agree with the bytes.
	ft, err := fnote.CoSigV1Timestamp(note.Signature{Name: f[0], Hash: binary.BigEndian.Uint32(raw), Base64: f[1]})
	must(err, "CoSigV1Timestamp")
	check(ft.Unix() == ts, "CoSigV1Timestamp %d != decoded %d", ft.Unix(), ts)
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, body)
	check(ed25519.Verify(p.pub, []byte(msg), raw[12:]), "stdlib ed25519.Verify of cosignature over the C2SP message")
	out.Type = "0x04 Ed25519 cosignature/v1 (C2SP tlog-cosignature)"
	out.Timestamp = &ts
	out.TimeUTC = time.Unix(ts, 0).UTC().Format(time.RFC3339)
	out.Signature = base64.StdEncoding.EncodeToString(raw[12:])
	out.SignedMessage = msg
	return out
}

// openAll opens n with the log verifier and the witnesses' cosignature/v1
// verifiers (built by formats from the 0x04 vkeys); all three must verify.
func openAll(signed []byte, verifiers []note.Verifier) error {
	n, err := note.Open(signed, note.VerifierList(verifiers...))
	if err != nil {
		return err
	}
	if len(n.Sigs) != len(verifiers) || len(n.UnverifiedSigs) != 0 {
		return fmt.Errorf("verified %d sigs, unverified %d; want %d, 0", len(n.Sigs), len(n.UnverifiedSigs), len(verifiers))
	}
	return nil
}

func openErr(signed []byte, verifiers ...note.Verifier) string {
	_, err := note.Open(signed, note.VerifierList(verifiers...))
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func main() {
	log.SetFlags(0)
	flag.Parse()

	// Keys.
	logSeed := make([]byte, 32)
	for i := range logSeed {
		logSeed[i] = byte(i + 1) // 0x01..0x20
	}
	logP := newParty(origin, "log", logSeed)
	w1 := newParty("witness.example/w1", "witness", bytes.Repeat([]byte{0x42}, 32))
	w2 := newParty("witness.example/w2", "witness", bytes.Repeat([]byte{0x43}, 32))
	witnesses := []*party{w1, w2}
	parties := map[string]*party{logP.Name: logP, w1.Name: w1, w2.Name: w2}

	logSigner, err := note.NewSigner(logP.SKey)
	must(err, "log signer")
	logVerifier, err := note.NewVerifier(logP.VKey)
	must(err, "log verifier")

	var wSigners []note.Signer
	var wVerifiers []note.Verifier
	for _, w := range witnesses {
		s, err := fnote.NewSignerForCosignatureV1(w.SKey)
		must(err, "formats NewSignerForCosignatureV1(%s)", w.Name)
		check(s.Name() == w.Name, "formats signer name %q", s.Name())
		// C2SP tlog-cosignature: key ID = SHA-256(name || "\n" || 0x04 || pub)[:4].
		h4 := keyID(w.Name, 0x04, w.pub)
		check(s.KeyHash() == h4, "formats Signer.KeyHash %08x != spec key ID %08x for %s", s.KeyHash(), h4, w.Name)
		w.CosigKeyHash = fmt.Sprintf("%08x", h4)
		w.CosigVKey = fmt.Sprintf("%s+%08x+%s", w.Name, h4, base64.StdEncoding.EncodeToString(append([]byte{0x04}, w.pub...)))
		conv, err := fnote.VKeyToCosignatureV1(w.VKey)
		must(err, "formats VKeyToCosignatureV1")
		check(conv == w.CosigVKey, "formats VKeyToCosignatureV1 %q != %q", conv, w.CosigVKey)
		v, err := fnote.NewVerifierForCosignatureV1(w.CosigVKey)
		must(err, "formats NewVerifierForCosignatureV1(%s)", w.CosigVKey)
		check(v.KeyHash() == h4 && v.Name() == w.Name, "formats verifier name/hash")
		gv, err := fnote.NewVerifier(w.CosigVKey) // formats' generic dispatcher on the type byte
		must(err, "formats NewVerifier(%s)", w.CosigVKey)
		check(gv.KeyHash() == h4, "formats NewVerifier hash")
		_, err = note.NewVerifier(w.CosigVKey)
		check(err != nil, "x/mod note.NewVerifier unexpectedly accepted a 0x04 vkey")
		wSigners = append(wSigners, s)
		wVerifiers = append(wVerifiers, v)
	}
	allVerifiers := append([]note.Verifier{logVerifier}, wVerifiers...)

	// Roots from go_tlog_tiles.json, recomputed with tlog as a check.
	var tiles struct {
		Sizes []struct {
			Size int64  `json:"size"`
			Root string `json:"root"`
		} `json:"sizes"`
	}
	tj, err := os.ReadFile(*tilesPath)
	must(err, "read %s", *tilesPath)
	must(json.Unmarshal(tj, &tiles), "parse %s", *tilesPath)
	rootOf := map[int64]string{}
	for _, s := range tiles.Sizes {
		rootOf[s.Size] = s.Root
	}
	var store []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = store[x]
		}
		return out, nil
	})
	for i := int64(0); i < 600; i++ {
		hs, err := tlog.StoredHashes(i, []byte(fmt.Sprintf("leaf-%d", i)), hr)
		must(err, "StoredHashes")
		store = append(store, hs...)
	}

	var cps []checkpointJSON
	var negatives []negativeJSON
	for _, size := range checkpointSizes {
		root, ok := rootOf[size]
		check(ok, "size %d missing from %s", size, *tilesPath)
		th, err := tlog.TreeHash(size, hr)
		must(err, "TreeHash")
		check(base64.StdEncoding.EncodeToString(th[:]) == root, "root of size %d in %s disagrees with tlog", size, *tilesPath)
		body := fmt.Sprintf("%s\n%d\n%s\n", origin, size, root)

		logSigned, err := note.Sign(&note.Note{Text: body}, logSigner)
		must(err, "note.Sign (log)")
		must(openAll(logSigned, []note.Verifier{logVerifier}), "open log-signed note")

		cosigned, err := note.Sign(&note.Note{Text: body}, append([]note.Signer{logSigner}, wSigners...)...)
		must(err, "note.Sign (log + witnesses)")
		check(bytes.HasPrefix(cosigned, logSigned), "cosigned note does not extend the log-signed note")
		must(openAll(cosigned, allVerifiers), "note.Open of cosigned note with log + formats cosignature verifiers")
		// Also via formats' Signer.Verifier().
		for i, s := range wSigners {
			sv := s.(*fnote.Signer).Verifier()
			n, err := note.Open(cosigned, note.VerifierList(sv))
			must(err, "open with Signer.Verifier()")
			check(len(n.Sigs) == 1 && n.Sigs[0].Name == witnesses[i].Name, "Signer.Verifier verified the wrong sig")
		}
		// A verifier built from the witness' plain Ed25519 (0x01) vkey must not
		// match the cosignature (different key ID): the note has no verifiable signatures.
		for _, w := range witnesses {
			v, err := note.NewVerifier(w.VKey)
			must(err, "witness 0x01 verifier")
			_, err = note.Open(cosigned, note.VerifierList(v))
			_, isUnverified := err.(*note.UnverifiedNoteError)
			check(isUnverified, "0x01 vkey of %s matched a cosignature: %v", w.Name, err)
		}

		lines := splitSigLines(cosigned, body)
		check(len(lines) == 3, "want 3 signature lines, got %d", len(lines))
		var sl []sigLineJSON
		for i, l := range lines {
			sl = append(sl, describeSigLine(l, parties, body, i > 0))
		}
		n, err := note.Open(cosigned, note.VerifierList(logVerifier))
		must(err, "open with log vkey only")
		check(len(n.Sigs) == 1 && len(n.UnverifiedSigs) == 2, "log-only open: %d verified, %d unverified", len(n.Sigs), len(n.UnverifiedSigs))

		cps = append(cps, checkpointJSON{
			Size: size, Root: root, Body: body, LogSignedNote: string(logSigned), CosignedNote: string(cosigned),
			SignatureLines: sl, VerifiedWith: []string{logP.VKey, w1.CosigVKey, w2.CosigVKey},
			Generator:       "x/mod note.Sign(log signer, formats NewSignerForCosignatureV1(w1), formats NewSignerForCosignatureV1(w2)); timestamps are the wall-clock time of generation",
			OpenWithLogOnly: "ok: 1 verified (log), 2 unverified (cosignatures)",
		})

		// Deterministic variant: same checkpoint, cosignatures with a fixed
		// timestamp, built with the standard library from the C2SP message
		// format and verified with formats' cosignature/v1 verifiers.
		var fixed bytes.Buffer
		fixed.Write(logSigned)
		for _, w := range witnesses {
			msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", fixedTimestamp, body)
			sig := ed25519.Sign(w.priv, []byte(msg))
			raw := make([]byte, 0, 76)
			raw = binary.BigEndian.AppendUint32(raw, keyID(w.Name, 0x04, w.pub))
			raw = binary.BigEndian.AppendUint64(raw, fixedTimestamp)
			raw = append(raw, sig...)
			fmt.Fprintf(&fixed, "\u2014 %s %s\n", w.Name, base64.StdEncoding.EncodeToString(raw))
		}
		fixedNote := fixed.Bytes()
		must(openAll(fixedNote, allVerifiers), "formats verifiers on fixed-timestamp note (size %d)", size)
		flines := splitSigLines(fixedNote, body)
		var fsl []sigLineJSON
		for i, l := range flines {
			fsl = append(fsl, describeSigLine(l, parties, body, i > 0))
		}
		cps = append(cps, checkpointJSON{
			Size: size, Root: root, Body: body, LogSignedNote: string(logSigned), CosignedNote: string(fixedNote),
			SignatureLines: fsl, VerifiedWith: []string{logP.VKey, w1.CosigVKey, w2.CosigVKey}, FixedTimestamp: true,
			Generator:       fmt.Sprintf("log signature by x/mod note.Sign; cosignatures by crypto/ed25519 over the C2SP cosignature/v1 message with fixed timestamp %d, verified with formats NewVerifierForCosignatureV1 via x/mod note.Open", fixedTimestamp),
			OpenWithLogOnly: "ok: 1 verified (log), 2 unverified (cosignatures)",
		})

		if size != 15 {
			continue
		}
		// Negative vectors, built from the formats-signed note of size 15.
		// (1) The body is altered (tree size 15 -> 16) but the signatures are kept.
		altered := bytes.Replace(cosigned, []byte(origin+"\n15\n"), []byte(origin+"\n16\n"), 1)
		check(!bytes.Equal(altered, cosigned), "alteration failed")
		exp1 := map[string]string{
			"log+w1+w2": openErr(altered, allVerifiers...),
			"w1":        openErr(altered, wVerifiers[0]),
			"w2":        openErr(altered, wVerifiers[1]),
			"log":       openErr(altered, logVerifier),
		}
		for k, v := range exp1 {
			check(strings.HasPrefix(v, "invalid signature for key "), "altered body: open with %s did not fail with invalid signature: %s", k, v)
		}
		negatives = append(negatives, negativeJSON{
			Description: "checkpoint body altered after signing (tree size line 15 -> 16), signature lines unchanged: " +
				"the log signature and both cosignatures must fail to verify. 'expect' maps the verifier set passed " +
				"to x/mod note.Open (log = log vkey, w1/w2 = the witnesses' 0x04 cosignature vkeys via formats) to the error",
			Note: string(altered), Expect: exp1,
		})
		// (2) w1's cosignature timestamp is changed (+1 s) but its Ed25519
		// signature is kept: the cosigned message differs, so w1 must fail
		// while the log signature and w2 still verify.
		l1 := sl[1]
		raw, _ := base64.StdEncoding.DecodeString(l1.Base64)
		binary.BigEndian.PutUint64(raw[4:12], binary.BigEndian.Uint64(raw[4:12])+1)
		newLine := fmt.Sprintf("\u2014 %s %s\n", l1.Name, base64.StdEncoding.EncodeToString(raw))
		tsAltered := bytes.Replace(cosigned, []byte(l1.Line), []byte(newLine), 1)
		check(!bytes.Equal(tsAltered, cosigned), "timestamp alteration failed")
		exp2 := map[string]string{
			"log+w1+w2": openErr(tsAltered, allVerifiers...),
			"w1":        openErr(tsAltered, wVerifiers[0]),
			"w2":        openErr(tsAltered, wVerifiers[1]),
			"log":       openErr(tsAltered, logVerifier),
		}
		check(strings.HasPrefix(exp2["log+w1+w2"], "invalid signature for key "+w1.Name+"+"), "ts altered: all: %s", exp2["log+w1+w2"])
		check(strings.HasPrefix(exp2["w1"], "invalid signature for key "+w1.Name+"+"), "ts altered: w1: %s", exp2["w1"])
		check(exp2["w2"] == "ok" && exp2["log"] == "ok", "ts altered: log/w2 should verify: %v", exp2)
		negatives = append(negatives, negativeJSON{
			Description: "w1's cosignature has its 8-byte timestamp incremented by one second, Ed25519 signature unchanged " +
				"(the signed 'time' line no longer matches): w1 must fail, the log signature and w2 still verify. " +
				"'expect' maps the verifier set passed to x/mod note.Open to the result ('ok' or the error)",
			Note: string(tsAltered), Expect: exp2,
		})
	}

	out := struct {
		Description    string           `json:"description"`
		Generator      string           `json:"generator"`
		GoVersion      string           `json:"go_version"`
		XmodVersion    string           `json:"xmod_version"`
		FormatsCommit  string           `json:"formats_commit"`
		FormatsFiles   string           `json:"formats_files"`
		License        string           `json:"license"`
		Origin         string           `json:"origin"`
		Keys           []keyJSON        `json:"keys"`
		FixedTimestamp int64            `json:"fixed_timestamp"`
		Checkpoints    []checkpointJSON `json:"checkpoints"`
		Negative       []negativeJSON   `json:"negative"`
	}{
		Description: "C2SP tlog-checkpoint notes signed by a log (Ed25519, type 0x01, golang.org/x/mod/sumdb/note) and cosigned by two " +
			"witnesses with C2SP tlog-cosignature Ed25519 cosignature/v1 (type 0x04) using github.com/transparency-dev/formats/note " +
			"(note_cosigv1.go at " + formatsCommit + ", unmodified). Roots are those of go_tlog_tiles.json (leaf i = \"leaf-<i>\"). " +
			"Keys come from fixed seeds. For each size there are two entries: fixed_timestamp=false is signed by formats' " +
			"NewSignerForCosignatureV1 (timestamp = wall clock at generation, so a re-run produces different cosignatures); " +
			"fixed_timestamp=true has cosignatures made with crypto/ed25519 over the spec's message at a fixed timestamp " +
			"(reproducible bit-for-bit) and verified with formats' verifier. All notes verify with x/mod note.Open and " +
			"formats NewVerifierForCosignatureV1 verifiers built from the 0x04 vkeys; all key IDs were checked against " +
			"SHA-256(name || 0x0A || type || pubkey)[:4]; every signature was re-verified with crypto/ed25519.",
		Generator:      "tests/vectors/generate/cosign/main.go",
		GoVersion:      runtime.Version(),
		XmodVersion:    *xmodVersion,
		FormatsCommit:  formatsCommit,
		FormatsFiles:   "note/note_cosigv1.go, note/note_verifier.go, note/note_rfc6962.go (unmodified, compiled in GOPATH mode)",
		License:        "output of golang.org/x/mod (BSD-3-Clause) and transparency-dev/formats (Apache-2.0) code; no library code is included",
		Origin:         origin,
		Keys:           []keyJSON{logP.keyJSON, w1.keyJSON, w2.keyJSON},
		FixedTimestamp: fixedTimestamp,
		Checkpoints:    cps,
		Negative:       negatives,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	must(enc.Encode(out), "encode")
	must(os.WriteFile(*outPath, buf.Bytes(), 0o644), "write")
	log.Printf("wrote %s: %d checkpoint notes, %d negative vectors; all verifications passed", *outPath, len(cps), len(negatives))
}
