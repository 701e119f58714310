/**
 * The root volume of a GPU worker instance, as its launch templates mount it and as a baked AMI (workerAmi.ts) is
 * built with: encrypted gp3 of `sizeGiB`, gone with the instance.
 */
export function rootVolume(sizeGiB: number) {
  return {
    deviceName: '/dev/xvda',
    ebs: { volumeSize: sizeGiB, volumeType: 'gp3', encrypted: 'true', deleteOnTermination: 'true' },
  };
}
