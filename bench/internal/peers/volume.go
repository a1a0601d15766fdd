package peers

import (
	"os"
	"path/filepath"
)

// WriteVolume writes files into dir the way the kubelet updates a secret volume: a new
// hidden version directory, then an atomic rename of the "..data" symlink onto it, with
// each key a symlink through "..data". Readers see all old or all new files, never a new
// certificate beside an old key. Called again on the same dir it rotates the contents.
func WriteVolume(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	verDir, err := os.MkdirTemp(dir, "..v")
	if err != nil {
		return err
	}
	ver := filepath.Base(verDir)
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(dir, ver, k), v, 0o644); err != nil {
			return err
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(ver, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for k := range files {
		link := filepath.Join(dir, k)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
			return err
		}
	}
	if old != "" && old != ver {
		os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}
