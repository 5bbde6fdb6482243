//go:build !purego

#include "textflag.h"

DATA quotes<>+0(SB)/8, $0x2222222222222222
DATA quotes<>+8(SB)/8, $0x2222222222222222
GLOBL quotes<>(SB), RODATA|NOPTR, $16
DATA backslashes<>+0(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA backslashes<>+8(SB)/8, $0x5c5c5c5c5c5c5c5c
GLOBL backslashes<>(SB), RODATA|NOPTR, $16
DATA spaces<>+0(SB)/8, $0x2020202020202020
DATA spaces<>+8(SB)/8, $0x2020202020202020
GLOBL spaces<>(SB), RODATA|NOPTR, $16

// SPECIAL sets mask's bytes to 0xff where in's bytes are special: equal
// to '"' or '\\', or below 0x20 as signed bytes (below 0x20, or 0x80 and
// above). It clobbers in and tmp.
#define SPECIAL(in, mask, tmp) \
	MOVO	X3, mask; \
	PCMPGTB	in, mask; \
	MOVO	in, tmp; \
	PCMPEQB	X1, tmp; \
	PCMPEQB	X2, in; \
	POR	tmp, mask; \
	POR	in, mask

// func nextSSE2(s string, i int) int
//
// Sixteen bytes a step. The caller guarantees len(s)-i >= 16; the last
// step reloads the final sixteen bytes and ignores those before i.
TEXT ·nextSSE2(SB), NOSPLIT, $0-32
	MOVQ	s_base+0(FP), SI
	MOVQ	s_len+8(FP), BX
	MOVQ	i+16(FP), AX
	MOVOU	quotes<>(SB), X1
	MOVOU	backslashes<>(SB), X2
	MOVOU	spaces<>(SB), X3

loop16:
	LEAQ	16(AX), CX
	CMPQ	CX, BX
	JA	tail
	MOVOU	(SI)(AX*1), X0
	SPECIAL(X0, X4, X5)
	PMOVMSKB	X4, DX
	TESTL	DX, DX
	JNZ	found
	MOVQ	CX, AX
	JMP	loop16

tail:
	CMPQ	AX, BX
	JAE	none
	LEAQ	-16(BX), DI
	MOVOU	(SI)(DI*1), X0
	SPECIAL(X0, X4, X5)
	PMOVMSKB	X4, DX
	MOVQ	AX, CX
	SUBQ	DI, CX // the bytes of this step before i, already seen
	SHRL	CX, DX
	TESTL	DX, DX
	JNZ	found

none:
	MOVQ	BX, ret+24(FP)
	RET

found:
	BSFL	DX, DX
	ADDQ	DX, AX
	MOVQ	AX, ret+24(FP)
	RET
