package poison

import (
	"fmt"
	"strconv"
)

func quoteRune(r rune) string      { return fmt.Sprintf("%U", r) }
func strconvQuote(s string) string { return strconv.Quote(s) }
