// Command checktranscribed checks the hand-transcribed vectors
// (tests/vectors/sumdb_note.json and tests/vectors/serverless_log/) against
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog. It writes
// nothing; it exits non-zero on the first disagreement.
//
// See ../README.md for how to run it.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var dir = flag.String("dir", ".", "the tests/vectors directory")

var failures int

func fail(format string, args ...interface{}) {
	failures++
	log.Printf("FAIL: "+format, args...)
}

type sig struct {
	Name    string `json:"name"`
	KeyHash string `json:"key_hash"`
	Base64  string `json:"base64"`
}

func (s sig) String() string { return s.Name + "+" + s.KeyHash + " " + s.Base64 }

func sigsEqual(got []note.Signature, want []sig) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Name != want[i].Name || fmt.Sprintf("%08x", got[i].Hash) != want[i].KeyHash || got[i].Base64 != want[i].Base64 {
			return false
		}
	}
	return true
}

func checkSumdbNote() {
	var d struct {
		Keys map[string]struct {
			SKey    *string `json:"skey"`
			VKey    string  `json:"vkey"`
			Name    string  `json:"name"`
			KeyHash string  `json:"key_hash"`
		} `json:"keys"`
		NoteText struct {
			Text string `json:"text"`
		} `json:"note_text"`
		SignedNote struct {
			Signer string `json:"signer"`
			Text   string `json:"text"`
		} `json:"signed_note"`
		SignatureLines map[string]struct {
			Line      string `json:"line"`
			Name      string `json:"name"`
			KeyHash   string `json:"key_hash"`
			Base64    string `json:"base64"`
			Signature string `json:"signature_base64"`
		} `json:"signature_lines"`
		OpenCases []struct {
			Description string   `json:"description"`
			Note        string   `json:"note"`
			Verifiers   []string `json:"verifiers"`
			OK          bool     `json:"ok"`
			GoError     string   `json:"go_error"`
			Verified    []sig    `json:"verified"`
			Unverified  []sig    `json:"unverified"`
		} `json:"open_cases"`
		BadMessages struct {
			Items []struct {
				Text    *string `json:"text"`
				Base64  string  `json:"base64"`
				GoError string  `json:"go_error"`
			} `json:"items"`
		} `json:"bad_messages"`
		BadVKeys struct {
			Items []struct {
				VKey string `json:"vkey"`
			} `json:"items"`
		} `json:"bad_vkeys"`
		BadVKeysMangled struct {
			Items []string `json:"items"`
		} `json:"bad_vkeys_mangled"`
		C2SP struct {
			VKey       string `json:"vkey"`
			Name       string `json:"name"`
			KeyHash    string `json:"key_hash"`
			NoteText   string `json:"note_text"`
			SignedNote string `json:"signed_note"`
		} `json:"c2sp_example"`
	}
	raw, err := os.ReadFile(filepath.Join(*dir, "sumdb_note.json"))
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		log.Fatal(err)
	}

	verifiers := map[string]note.Verifier{}
	for name, k := range d.Keys {
		v, err := note.NewVerifier(k.VKey)
		if err != nil {
			fail("NewVerifier(%s): %v", k.VKey, err)
			continue
		}
		if v.Name() != k.Name || fmt.Sprintf("%08x", v.KeyHash()) != k.KeyHash || name != k.Name {
			fail("vkey %s: name/hash mismatch", k.VKey)
		}
		verifiers[name] = v
		if k.SKey != nil {
			s, err := note.NewSigner(*k.SKey)
			if err != nil {
				fail("NewSigner(%s): %v", *k.SKey, err)
				continue
			}
			if s.Name() != k.Name || s.KeyHash() != v.KeyHash() {
				fail("skey/vkey mismatch for %s", name)
			}
		}
	}

	// TestSign: exact signed note.
	s, err := note.NewSigner(*d.Keys[d.SignedNote.Signer].SKey)
	if err != nil {
		log.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: d.NoteText.Text}, s)
	if err != nil || string(msg) != d.SignedNote.Text {
		fail("note.Sign output differs:\n%s\nwant:\n%s", msg, d.SignedNote.Text)
	}
	for name, l := range d.SignatureLines {
		raw, err := base64.StdEncoding.DecodeString(l.Base64)
		if err != nil || len(raw) != 68 || fmt.Sprintf("%08x", raw[:4]) != l.KeyHash ||
			base64.StdEncoding.EncodeToString(raw[4:]) != l.Signature || l.Name != name ||
			l.Line != "\u2014 "+l.Name+" "+l.Base64+"\n" {
			fail("signature line %s inconsistent", name)
		}
		n, err := note.Open([]byte(d.NoteText.Text+"\n"+l.Line), note.VerifierList(verifiers[name]))
		if err != nil || len(n.Sigs) != 1 {
			fail("signature line %s does not verify: %v", name, err)
		}
	}

	for _, c := range d.OpenCases {
		var vs []note.Verifier
		for _, name := range c.Verifiers {
			vs = append(vs, verifiers[name])
		}
		n, err := note.Open([]byte(c.Note), note.VerifierList(vs...))
		if c.OK {
			if err != nil {
				fail("open case %q: %v", c.Description, err)
				continue
			}
			if n.Text != d.NoteText.Text || !sigsEqual(n.Sigs, c.Verified) || !sigsEqual(n.UnverifiedSigs, c.Unverified) {
				fail("open case %q: got sigs %v unverified %v", c.Description, n.Sigs, n.UnverifiedSigs)
			}
			continue
		}
		if err == nil || err.Error() != c.GoError {
			fail("open case %q: err = %v, want %q", c.Description, err, c.GoError)
			continue
		}
		if e, ok := err.(*note.UnverifiedNoteError); ok && c.Unverified != nil {
			if !sigsEqual(e.Note.UnverifiedSigs, c.Unverified) || len(e.Note.Sigs) != 0 {
				fail("open case %q: UnverifiedNoteError note sigs mismatch", c.Description)
			}
		}
	}

	for i, m := range d.BadMessages.Items {
		b, err := base64.StdEncoding.DecodeString(m.Base64)
		if err != nil {
			fail("bad message %d: base64: %v", i, err)
			continue
		}
		if m.Text != nil && *m.Text != string(b) {
			fail("bad message %d: text and base64 differ", i)
		}
		n, err := note.Open(b, note.VerifierList(verifiers["PeterNeumann"]))
		if n != nil || err == nil || err.Error() != m.GoError {
			fail("bad message %d: Open = %v, %v; want %q", i, n, err, m.GoError)
		}
	}

	bad := []string{}
	for _, k := range d.BadVKeys.Items {
		bad = append(bad, k.VKey)
	}
	bad = append(bad, d.BadVKeysMangled.Items...)
	for _, k := range bad {
		if _, err := note.NewVerifier(k); err == nil {
			fail("NewVerifier(%q) accepted a bad vkey", k)
		}
	}

	v, err := note.NewVerifier(d.C2SP.VKey)
	if err != nil || v.Name() != d.C2SP.Name || fmt.Sprintf("%08x", v.KeyHash()) != d.C2SP.KeyHash {
		fail("C2SP example vkey: %v", err)
	} else {
		n, err := note.Open([]byte(d.C2SP.SignedNote), note.VerifierList(v))
		if err != nil || n.Text != d.C2SP.NoteText || len(n.Sigs) != 1 {
			fail("C2SP example note: %v", err)
		}
	}
	log.Printf("sumdb_note.json: checked %d keys, %d open cases, %d bad messages, %d bad vkeys, C2SP example",
		len(d.Keys), len(d.OpenCases), len(d.BadMessages.Items), len(bad))
}

func checkServerlessLog() {
	var d struct {
		Origin      string   `json:"origin"`
		VKey        string   `json:"vkey"`
		SKey        string   `json:"skey"`
		Leaves      []string `json:"leaves"`
		Checkpoints []struct {
			File   string `json:"file"`
			Size   int64  `json:"size"`
			Root   string `json:"root_base64"`
			SHA256 string `json:"sha256"`
		} `json:"checkpoints"`
	}
	base := filepath.Join(*dir, "serverless_log")
	raw, err := os.ReadFile(filepath.Join(base, "log.json"))
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		log.Fatal(err)
	}
	v, err := note.NewVerifier(d.VKey)
	if err != nil {
		log.Fatalf("serverless vkey: %v", err)
	}
	s, err := note.NewSigner(d.SKey)
	if err != nil || s.KeyHash() != v.KeyHash() || s.Name() != v.Name() {
		log.Fatalf("serverless skey: %v", err)
	}

	var store []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = store[x]
		}
		return out, nil
	})
	for i, l := range d.Leaves {
		hs, err := tlog.StoredHashes(int64(i), []byte(l), hr)
		if err != nil {
			log.Fatal(err)
		}
		store = append(store, hs...)
	}
	if len(d.Checkpoints) != len(d.Leaves)+1 {
		fail("serverless: %d checkpoints for %d leaves", len(d.Checkpoints), len(d.Leaves))
	}
	for i, c := range d.Checkpoints {
		b, err := os.ReadFile(filepath.Join(base, c.File))
		if err != nil {
			fail("%v", err)
			continue
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != c.SHA256 || c.File != "checkpoint."+strconv.Itoa(i) || c.Size != int64(i) {
			fail("%s: sha256/name/size mismatch", c.File)
		}
		n, err := note.Open(b, note.VerifierList(v))
		if err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
			fail("%s: does not verify: %v", c.File, err)
			continue
		}
		lines := strings.Split(n.Text, "\n")
		if len(lines) != 4 || lines[0] != d.Origin || lines[1] != strconv.FormatInt(c.Size, 10) || lines[2] != c.Root || lines[3] != "" {
			fail("%s: unexpected body %q", c.File, n.Text)
		}
		var want tlog.Hash
		if c.Size == 0 {
			want = sha256.Sum256(nil) // RFC 6962 MTH({}); tlog.TreeHash(0) would be all zeros
		} else if want, err = tlog.TreeHash(c.Size, hr); err != nil {
			log.Fatal(err)
		}
		if base64.StdEncoding.EncodeToString(want[:]) != c.Root {
			fail("%s: root %s, RFC 6962 root of leaves[:%d] is %s", c.File, c.Root, c.Size, base64.StdEncoding.EncodeToString(want[:]))
		}
		// Ed25519 is deterministic: re-signing the body reproduces the file.
		re, err := note.Sign(&note.Note{Text: n.Text}, s)
		if err != nil || !bytes.Equal(re, b) {
			fail("%s: re-signing with skey does not reproduce the file", c.File)
		}
	}
	log.Printf("serverless_log: checked %d checkpoints against %d leaves", len(d.Checkpoints), len(d.Leaves))
}

func main() {
	log.SetFlags(0)
	flag.Parse()
	checkSumdbNote()
	checkServerlessLog()
	if failures > 0 {
		log.Fatalf("%d failures", failures)
	}
	log.Printf("all transcribed vectors OK")
}
