package proc

import (
	"os"
	"strconv"
	"strings"
)

// CoreTimes is one /proc/stat sample: busy and total jiffies per CPU.
type CoreTimes struct {
	Busy, Total []int64
}

// Cores reads per-CPU times from /proc/stat (busy = all but idle and iowait).
func Cores() (CoreTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CoreTimes{}, err
	}
	var ct CoreTimes
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var total, idle int64
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			if i >= 8 { // guest times are already counted in user/nice
				break
			}
			total += n
			if i == 3 || i == 4 {
				idle += n
			}
		}
		ct.Busy = append(ct.Busy, total-idle)
		ct.Total = append(ct.Total, total)
	}
	return ct, nil
}

// BusyFractions returns, per CPU, the fraction of time it was busy between a and b.
func BusyFractions(a, b CoreTimes) []float64 {
	n := min(len(a.Busy), len(b.Busy))
	out := make([]float64, n)
	for i := range n {
		if dt := b.Total[i] - a.Total[i]; dt > 0 {
			out[i] = float64(b.Busy[i]-a.Busy[i]) / float64(dt)
		}
	}
	return out
}

// LoadAvg returns the one-minute load average from /proc/loadavg.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	x, _ := strconv.ParseFloat(f[0], 64)
	return x
}
