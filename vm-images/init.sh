#!/bin/busybox sh
# /init of kasync's initramfs: mount the basics, load the modules in /modules/order, mount the
# scratch filesystem, then hand the virtio-serial port named kasync.agent to kasync-exec.
# Lines starting KASYNC-INIT are read by the host (src/vm/qemu.ts); keep their form.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp /scratch
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1"=*) echo "${w#*=}";; esac; done; }
say() { echo "KASYNC-INIT $*" > /dev/kmsg; }

# everything the kernel says from here on reaches the console, and hangs are reported quickly
echo 8 > /proc/sys/kernel/printk
# the agent's KASYNC-RUN markers must never be rate-limited away
echo on > /proc/sys/kernel/printk_devkmsg
echo "$(arg kasync.hung)" > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null

# loopback up: network tests talk to 127.0.0.1 (no other interface exists: qemu runs with -nodefaults)
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up

while read -r m; do
  [ -n "$m" ] && { insmod "/modules/$m" || say "FAIL insmod $m"; }
done < /modules/order

fs=$(arg kasync.fs)
case "$fs" in
  ''|tmpfs) mount -t tmpfs -o size=512m tmpfs /scratch || say "FAIL mount tmpfs" ;;
  *)
    n=0
    while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    mount -t "$fs" /dev/vda /scratch || say "FAIL mount $fs /dev/vda" ;;
esac

port=
n=0
while [ -z "$port" ] && [ $n -lt 100 ]; do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = kasync.agent ] && port=/dev/${p##*/}
  done
  [ -z "$port" ] && { sleep 0.1; n=$((n + 1)); }
done
if [ -z "$port" ]; then
  say "FAIL no virtio port named kasync.agent"
else
  say "agent on $port"
  /bin/kasync-exec --agent "$port" --scratch /scratch
  say "agent exited $?"
fi
poweroff -n -f
