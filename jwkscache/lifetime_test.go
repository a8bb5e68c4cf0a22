package jwkscache

import (
	"net/http"
	"testing"
	"time"
)

func TestLifetime(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	date := now.Add(-time.Minute) // server clock a minute behind ours
	min, max := 5*time.Minute, 24*time.Hour
	tests := []struct {
		name string
		h    map[string]string
		want time.Duration
	}{
		{"nothing", nil, time.Hour},
		{"max-age in range", map[string]string{"Cache-Control": "public, max-age=7200"}, 2 * time.Hour},
		{"max-age below min", map[string]string{"Cache-Control": "max-age=60"}, min},
		{"max-age above max", map[string]string{"Cache-Control": "max-age=604800"}, max},
		{"max-age=0", map[string]string{"Cache-Control": "max-age=0"}, min},
		{"max-age quoted", map[string]string{"Cache-Control": `max-age="3600"`}, time.Hour},
		{"max-age case and spaces", map[string]string{"Cache-Control": " Max-Age = 3600 "}, time.Hour},
		{"max-age huge saturates", map[string]string{"Cache-Control": "max-age=99999999999999999999"}, max},
		{"max-age negative ignored", map[string]string{"Cache-Control": "max-age=-5"}, time.Hour},
		{"max-age garbage ignored", map[string]string{"Cache-Control": "max-age=soon"}, time.Hour},
		{"first max-age wins", map[string]string{"Cache-Control": "max-age=7200, max-age=60"}, 2 * time.Hour},
		{"age subtracted", map[string]string{"Cache-Control": "max-age=7200", "Age": "3600"}, time.Hour},
		{"age beyond max-age", map[string]string{"Cache-Control": "max-age=600", "Age": "3600"}, min},
		{"no-store", map[string]string{"Cache-Control": "no-store"}, min},
		{"no-cache beats max-age", map[string]string{"Cache-Control": "max-age=7200, no-cache"}, min},
		{"no-cache with field names", map[string]string{"Cache-Control": `no-cache="Set-Cookie"`}, min},
		{"s-maxage ignored", map[string]string{"Cache-Control": "s-maxage=7200"}, time.Hour},
		{"private with max-age", map[string]string{"Cache-Control": "private, max-age=3600"}, time.Hour},
		{"expires relative to date", map[string]string{
			"Expires": date.Add(3 * time.Hour).Format(http.TimeFormat), "Date": date.Format(http.TimeFormat)}, 3 * time.Hour},
		{"expires without date", map[string]string{"Expires": now.Add(2 * time.Hour).Format(http.TimeFormat)}, 2 * time.Hour},
		{"expires with bad date uses now", map[string]string{
			"Expires": now.Add(2 * time.Hour).Format(http.TimeFormat), "Date": "yesterday"}, 2 * time.Hour},
		{"expires in the past", map[string]string{"Expires": now.Add(-time.Hour).Format(http.TimeFormat)}, min},
		{"expires invalid means expired", map[string]string{"Expires": "0"}, min},
		{"max-age beats expires", map[string]string{
			"Cache-Control": "max-age=7200", "Expires": now.Add(10 * time.Hour).Format(http.TimeFormat)}, 2 * time.Hour},
		{"expires far future clamped", map[string]string{"Expires": "Fri, 31 Dec 9999 23:59:59 GMT"}, max},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.h {
				h.Set(k, v)
			}
			if got := lifetime(h, now, min, max); got != tt.want {
				t.Errorf("lifetime = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLifetimeMultipleCacheControlLines(t *testing.T) {
	h := http.Header{}
	h.Add("Cache-Control", "public")
	h.Add("Cache-Control", "max-age=7200")
	if got := lifetime(h, time.Now(), time.Minute, 24*time.Hour); got != 2*time.Hour {
		t.Errorf("lifetime = %s", got)
	}
}

func TestRefreshDelay(t *testing.T) {
	for range 100 {
		d := refreshDelay(time.Hour, 24*time.Hour)
		if d < 48*time.Minute || d > 54*time.Minute {
			t.Fatalf("refresh at %s, want 80-90%% of 1h", d)
		}
		if d := refreshDelay(time.Hour, 10*time.Minute); d > 10*time.Minute {
			t.Fatalf("refresh at %s, after the set would go stale", d)
		}
	}
}

func FuzzCacheLifetime(f *testing.F) {
	f.Add("max-age=3600", "", "", "")
	f.Add("no-store, max-age=60", "Thu, 01 Jan 2030 00:00:00 GMT", "Wed, 01 Jan 2030 00:00:00 GMT", "10")
	f.Add(`max-age="99999999999999999999999"`, "0", "garbage", "99999999999999999999")
	f.Add(",,=,max-age=,=", "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", "-1")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	min, max := time.Minute, 24*time.Hour
	f.Fuzz(func(t *testing.T, cacheControl, expires, date, age string) {
		h := http.Header{}
		h.Set("Cache-Control", cacheControl)
		h.Set("Expires", expires)
		h.Set("Date", date)
		h.Set("Age", age)
		if got := lifetime(h, now, min, max); got < min || got > max {
			t.Fatalf("lifetime %s outside [%s, %s]", got, min, max)
		}
	})
}
