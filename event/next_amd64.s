//go:build !purego

#include "textflag.h"

// func nextSSE2(s string, i int) int
//
// Sixteen bytes a step: a byte is special when it equals '"' or '\\', or
// when it is below 0x20 as a signed byte (below 0x20, or 0x80 and above).
// The caller guarantees len(s)-i >= 16; the last step reloads the final
// sixteen bytes and ignores those before i.
TEXT ·nextSSE2(SB), NOSPLIT, $0-32
	MOVQ	s_base+0(FP), SI
	MOVQ	s_len+8(FP), BX
	MOVQ	i+16(FP), AX
	MOVQ	$0x2222222222222222, DX
	MOVQ	DX, X1
	PUNPCKLQDQ	X1, X1
	MOVQ	$0x5c5c5c5c5c5c5c5c, DX
	MOVQ	DX, X2
	PUNPCKLQDQ	X2, X2
	MOVQ	$0x2020202020202020, DX
	MOVQ	DX, X3
	PUNPCKLQDQ	X3, X3

loop:
	LEAQ	16(AX), CX
	CMPQ	CX, BX
	JA	tail
	MOVOU	(SI)(AX*1), X0
	MOVO	X3, X4
	PCMPGTB	X0, X4 // X4 = 0x20 > byte, signed
	MOVO	X0, X5
	PCMPEQB	X1, X5
	PCMPEQB	X2, X0
	POR	X5, X4
	POR	X0, X4
	PMOVMSKB	X4, DX
	TESTL	DX, DX
	JNZ	found
	MOVQ	CX, AX
	JMP	loop

found:
	BSFL	DX, DX
	ADDQ	DX, AX
	MOVQ	AX, ret+24(FP)
	RET

tail:
	CMPQ	AX, BX
	JAE	none
	LEAQ	-16(BX), DI
	MOVOU	(SI)(DI*1), X0
	MOVO	X3, X4
	PCMPGTB	X0, X4
	MOVO	X0, X5
	PCMPEQB	X1, X5
	PCMPEQB	X2, X0
	POR	X5, X4
	POR	X0, X4
	PMOVMSKB	X4, DX
	MOVQ	AX, CX
	SUBQ	DI, CX // the bytes of this step before i, already seen
	SHRL	CX, DX
	TESTL	DX, DX
	JNZ	found

none:
	MOVQ	BX, ret+24(FP)
	RET
