// Package file is the file-system configuration source. Load reads configuration files
// and directories (multi-document YAML or JSON, decoded strictly by internal/decode) and
// credential directories (one sub-directory per Secret, one file per key: the layout of a
// Kubernetes Secret volume) into one resources.Bundle. Watcher does the same at start and
// again after every settled burst of changes, publishing each complete bundle.
//
// Watching: fsnotify watches directories, never files, because editors and Kubernetes
// replace files by rename or by swapping the ..data symlink, which a watch on the file
// would lose. Watched are every directory a load read (including sub-directories created
// later), the parent of every configured path (so deleting and recreating a path, or
// renaming a file over it, is seen), and the directories of the extra files given to
// SetExtraFiles. Names starting with "." are ignored except Kubernetes' "..data" swaps.
// Bursts are debounced (100 ms quiet, at most 1 s).
//
// Broken edits: the Watcher remembers each file's last version that loaded without
// errors. When a file's new content has errors (invalid YAML, a bad field), the objects of
// that last clean version stay in the bundle, with the new errors and a warning as
// diagnostics, until the file is fixed: a broken edit of a Secret manifest is reported as
// an invalid update, not served as a deletion (which would revoke the credential). Removing
// the file removes its objects. Load, being one-shot, reports files as they are.
//
// Extra files: a Gateway's file-mounted TLS (serverCertificate, privateKey,
// caCertificates) names files the bundle does not hold; the credential store reads them.
// The app passes those paths to SetExtraFiles and re-syncs credentials when
// OnFilesChanged names them. Their changes do not republish the bundle (it is unchanged).
//
// Imports: internal/decode, internal/diag, internal/resources, k8s.io/api,
// k8s.io/apimachinery, github.com/fsnotify/fsnotify, standard library.
package file
