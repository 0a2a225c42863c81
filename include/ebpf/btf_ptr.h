/* SPDX-License-Identifier: MIT */
/*
 * ebpf/btf_ptr.h - name "this type in the kernel's or a module's BTF" from a BPF program, object included.
 *
 * Mainline bpf_snprintf_btf()/bpf_seq_printf_btf() take a struct btf_ptr { ptr, type_id, flags } whose type_id is
 * a vmlinux id: a type that lives in a kernel module cannot be printed (the December 2020 libbpf discussion ended
 * without a way to carry the module's BTF object). Ebpf.NET's managed runtime carries it, as an extension:
 *
 *   - bpf_core_type_id_kernel(T) is a 64-bit ld_imm64. When T resolves into a module's BTF, the loader marks the
 *     instruction (src_reg 7, the module BTF's fd in the second imm, like a map fd) and the runtime resolves it at
 *     load: the program takes a reference on that BTF object (it outlives a module unload while the program
 *     lives) and the constant becomes (slot << 32) | type_id, slot being the object's 1-based index among the
 *     BTF objects the program holds. A vmlinux type keeps upper half 0, as libbpf writes it.
 *   - struct ebpf_btf_ptr is struct btf_ptr with one field added after flags (flags is kept, reserved as before):
 *     the BTF object slot. Passed with size sizeof(struct ebpf_btf_ptr) (24), the helpers print from that object;
 *     passed with size sizeof(struct btf_ptr) (16) they behave as mainline.
 *
 * EBPF_BTF_PTR_SIZE() picks 16 for vmlinux types and 24 for module types, so one program runs everywhere: on a
 * mainline kernel (our Linux backend keeps libbpf's encoding) every slot is 0 and the helper sees a plain btf_ptr.
 */
#ifndef __EBPF_BTF_PTR_H
#define __EBPF_BTF_PTR_H

#include <linux/types.h>
#include <bpf/bpf_core_read.h>

struct ebpf_btf_ptr {
	void *ptr;
	__u32 type_id;
	__u32 flags;		/* as struct btf_ptr: reserved, 0 */
	__u32 btf_obj;		/* extension: BTF object slot, 0 = vmlinux */
	__u32 __reserved;	/* 0 */
};

/* The 64-bit value the loader gives: type id in the low half, BTF object slot in the high half. */
#define ebpf_core_type_ref_kernel(type) ((__u64)bpf_core_type_id_kernel(type))

/* Fill *p to describe object obj of kernel (or module) type "type". */
#define EBPF_BTF_PTR_INIT(p, obj, type)							\
	do {										\
		__u64 __ref = ebpf_core_type_ref_kernel(type);				\
		(p)->ptr = (void *)(obj);						\
		(p)->type_id = (__u32)__ref;						\
		(p)->flags = 0;								\
		(p)->btf_obj = (__u32)(__ref >> 32);					\
		(p)->__reserved = 0;							\
	} while (0)

/* The btf_ptr_size argument: mainline's 16 bytes unless the type lives in a module's BTF. */
#define EBPF_BTF_PTR_SIZE(p) ((p)->btf_obj ? sizeof(struct ebpf_btf_ptr) : 16)

#endif /* __EBPF_BTF_PTR_H */
