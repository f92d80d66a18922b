// SPDX-License-Identifier: GPL-2.0-only
/*
 * kasync_splat: makes the kernel print one kind of report, chosen by the
 * "what" parameter, so kasync's console parser can be tested on real logs.
 * Test VMs only: most choices leave the kernel tainted or dead.
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kfence.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>

static char *what = "none";
module_param(what, charp, 0444);
MODULE_PARM_DESC(what, "warn|bug|null|gpf|softlockup|rcustall|hung|atomicsleep|kfence|none");

static unsigned int seconds = 8;
module_param(seconds, uint, 0444);
MODULE_PARM_DESC(seconds, "how long softlockup/rcustall/hung keep the CPU or the task");

/* A global the compiler cannot prove NULL, so the dereference is a real load. */
static int *volatile splat_null_target;

static noinline void splat_warn(void)
{
	WARN_ON(strcmp(what, "warn") == 0);
}

static noinline void splat_bug(void)
{
	BUG();
}

static noinline int splat_null(void)
{
	return READ_ONCE(*splat_null_target);
}

/* A non-canonical address (list poison) faults with #GP, not #PF. */
static int *volatile splat_poison_target = (int *)0xdead000000000100UL;

static noinline int splat_gpf(void)
{
	return READ_ONCE(*splat_poison_target);
}

/* Spin with preemption off so the watchdog thread cannot run on this CPU. */
static noinline void splat_softlockup(void)
{
	unsigned long until = jiffies + seconds * HZ;

	preempt_disable();
	while (time_before(jiffies, until))
		cpu_relax();
	preempt_enable();
}

/* Stay inside one RCU read-side section; cond_resched keeps the softlockup watchdog quiet. */
static noinline void splat_rcustall(void)
{
	unsigned long until = jiffies + seconds * HZ;

	rcu_read_lock();
	while (time_before(jiffies, until))
		cond_resched();
	rcu_read_unlock();
}

/* Sleep in D state longer than kernel.hung_task_timeout_secs. */
static noinline void splat_hung(void)
{
	schedule_timeout_uninterruptible(seconds * HZ);
}

/* Sleep with preemption disabled: "scheduling while atomic" (or "sleeping function..." with DEBUG_ATOMIC_SLEEP). */
static noinline void splat_atomicsleep(void)
{
	preempt_disable();
	msleep(10);
	preempt_enable();
}

/* Allocate until KFENCE guards an object, free it, then read it. */
static noinline int splat_kfence(void)
{
	unsigned long until = jiffies + seconds * HZ;

	while (time_before(jiffies, until)) {
		char *p = kmalloc(64, GFP_KERNEL);

		if (!p)
			return -ENOMEM;
		if (is_kfence_address(p)) {
			kfree(p);
			return READ_ONCE(p[3]);
		}
		kfree(p);
		msleep(1);
	}
	pr_info("kasync_splat: no KFENCE object within %u s (is kfence.sample_interval set?)\n", seconds);
	return -ETIMEDOUT;
}

static int __init kasync_splat_init(void)
{
	pr_info("kasync_splat: what=%s\n", what);
	if (!strcmp(what, "warn"))
		splat_warn();
	else if (!strcmp(what, "bug"))
		splat_bug();
	else if (!strcmp(what, "null"))
		splat_null();
	else if (!strcmp(what, "gpf"))
		splat_gpf();
	else if (!strcmp(what, "softlockup"))
		splat_softlockup();
	else if (!strcmp(what, "rcustall"))
		splat_rcustall();
	else if (!strcmp(what, "hung"))
		splat_hung();
	else if (!strcmp(what, "atomicsleep"))
		splat_atomicsleep();
	else if (!strcmp(what, "kfence"))
		splat_kfence();
	else if (strcmp(what, "none"))
		return -EINVAL;
	pr_info("kasync_splat: %s done\n", what);
	return 0;
}

static void __exit kasync_splat_exit(void)
{
}

module_init(kasync_splat_init);
module_exit(kasync_splat_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Triggers kernel reports for kasync's console parser tests");
