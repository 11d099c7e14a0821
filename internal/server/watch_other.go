//go:build !linux

package server

// watchDir watches dir with fsnotify. Outside Linux, fsnotify reports no
// closes, so a file changed in place settles by Config.Settle alone.
func watchDir(dir string) (*dirWatch, error) { return watchPortable(dir) }
