//! Known-answer tests: every primitive of the registry against the vectors its standard
//! publishes, written out here with the section they come from. The MACs, ciphers and
//! signatures run through the registry's own functions (`MacAlgorithm::mac`,
//! `SealingKey::seal_with_nonce` / `open`, `Ed25519Key`); SM3 and the SM4 block are checked on the
//! crate types those functions are built on.

use sm4::cipher::{BlockDecrypt as _, BlockEncrypt as _, KeyInit as _};

use crate::{Cipher, Ed25519Key, MacAlgorithm, verify_ed25519};

fn bytes(hex_text: &str) -> Vec<u8> {
    let compact: String = hex_text.split_whitespace().collect();
    hex::decode(compact).unwrap()
}

fn array<const N: usize>(hex_text: &str) -> [u8; N] {
    bytes(hex_text).try_into().unwrap()
}

/// GB/T 32905-2016 (SM3 cryptographic hash algorithm), Appendix A: example 1 ("abc") and
/// example 2 ("abcd" sixteen times, 64 bytes).
#[test]
fn sm3_gb_t_32905_appendix_a() {
    use sm3::Digest as _;
    for (message, digest) in [
        (
            b"abc".to_vec(),
            "66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0",
        ),
        (
            b"abcd".repeat(16),
            "debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732",
        ),
    ] {
        assert_eq!(sm3::Sm3::digest(&message).to_vec(), bytes(digest));
    }
}

/// GB/T 32907-2016 (SM4 block cipher algorithm), Appendix A, example 1: one block encrypted
/// and decrypted under the key that equals the plaintext. (Example 2, a million encryptions,
/// takes 1.9 s in a debug build here and is left out.)
#[test]
fn sm4_gb_t_32907_appendix_a_example_1() {
    let key: [u8; 16] = array("01234567 89abcdef fedcba98 76543210");
    let plain: [u8; 16] = array("01234567 89abcdef fedcba98 76543210");
    let cipher = sm4::Sm4::new(&key.into());
    let mut block = plain.into();
    cipher.encrypt_block(&mut block);
    assert_eq!(block.to_vec(), bytes("681edf34 d206965e 86b3e94f 536e4246"));
    cipher.decrypt_block(&mut block);
    assert_eq!(block.to_vec(), plain);
}

/// RFC 8998 (ShangMi cipher suites for TLS 1.3), Appendix A.1: SM4-GCM.
#[test]
fn sm4_gcm_rfc_8998_appendix_a_1() {
    check_gcm(
        Cipher::Sm4Gcm,
        "01234567 89ABCDEF FEDCBA98 76543210",
        "00001234 56780000 0000ABCD",
        "FEEDFACE DEADBEEF FEEDFACE DEADBEEF ABADDAD2",
        "AAAAAAAA AAAAAAAA BBBBBBBB BBBBBBBB CCCCCCCC CCCCCCCC DDDDDDDD DDDDDDDD
         EEEEEEEE EEEEEEEE FFFFFFFF FFFFFFFF EEEEEEEE EEEEEEEE AAAAAAAA AAAAAAAA",
        "17F399F0 8C67D5EE 19D0DC99 69C4BB7D 5FD46FD3 75648906 9157B282 BB200735
         D82710CA 5C22F0CC FA7CBF93 D496AC15 A56834CB CF98C397 B4024A26 91233B8D",
        "83DE3541 E4C2B581 77E065A9 BF7B62EC",
    );
}

/// The GCM specification (McGrew and Viega, "The Galois/Counter Mode of Operation", the test
/// vectors NIST SP 800-38D refers to), test case 16: AES-256, 96-bit IV, associated data.
#[test]
fn aes_256_gcm_gcm_spec_test_case_16() {
    check_gcm(
        Cipher::Aes256Gcm,
        "feffe992 8665731c 6d6a8f94 67308308 feffe992 8665731c 6d6a8f94 67308308",
        "cafebabe facedbad decaf888",
        "feedface deadbeef feedface deadbeef abaddad2",
        "d9313225 f88406e5 a55909c5 aff5269a 86a7a953 1534f7da 2e4c303d 8a318a72
         1c3c0c95 95680953 2fcf0e24 49a6b525 b16aedf5 aa0de657 ba637b39",
        "522dc1f0 99567d07 f47f37a3 2a84427d 643a8cdc bfe5c0c9 7598a2bd 2555d1aa
         8cb08e48 590dbb3d a7b08b10 56828838 c5f61e63 93ba7a0a bcc9f662",
        "76fc6ece 0f4e1768 cddf8853 bb2d551b",
    );
}

fn check_gcm(cipher: Cipher, key: &str, nonce: &str, aad: &str, plain: &str, ciphertext: &str, tag: &str) {
    let key = cipher.key(&bytes(key)).unwrap();
    let nonce: [u8; 12] = array(nonce);
    let (aad, plain) = (bytes(aad), bytes(plain));
    let mut expected = bytes(ciphertext);
    expected.extend(bytes(tag));
    assert_eq!(key.seal_with_nonce(&nonce, &aad, &plain).unwrap(), expected);
    let sealed = [nonce.to_vec(), expected].concat();
    assert_eq!(key.open(&aad, &sealed).unwrap(), plain);
}

/// RFC 4231 (HMAC-SHA-256 test vectors), section 4: test cases 1-4, 6 and 7 (case 5 checks a
/// truncated output, which ronghe never uses).
#[test]
fn hmac_sha256_rfc_4231_section_4() {
    let key_4: Vec<u8> = (0x01..=0x19).collect();
    let long_key = vec![0xaa; 131];
    check_macs(
        MacAlgorithm::HmacSha256,
        &[
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                key_4,
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                long_key.clone(),
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                long_key,
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ],
    );
}

/// GM/T 0042-2015 (certificate authentication system cryptographic protocols), Appendix D.3:
/// the four HMAC-SM3 examples.
#[test]
fn hmac_sm3_gm_t_0042_appendix_d_3() {
    let key_32: Vec<u8> = (0x01..=0x20).collect();
    let key_37: Vec<u8> = (0x01..=0x25).collect();
    check_macs(
        MacAlgorithm::HmacSm3,
        &[
            (
                key_32,
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".repeat(2),
                "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a",
            ),
            (
                key_37,
                vec![0xcd; 50],
                "220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae",
            ),
            (
                vec![0x0b; 32],
                b"Hi There".to_vec(),
                "c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882",
            ),
        ],
    );
}

fn check_macs(algorithm: MacAlgorithm, cases: &[(Vec<u8>, Vec<u8>, &str)]) {
    for (i, (key, message, tag)) in cases.iter().enumerate() {
        assert_eq!(
            hex::encode(algorithm.mac(key, message)),
            *tag,
            "{algorithm} case {}",
            i + 1
        );
        assert!(algorithm.verify(key, message, &bytes(tag)));
        let mut wrong = bytes(tag);
        wrong[0] ^= 1;
        assert!(!algorithm.verify(key, message, &wrong));
        assert!(!algorithm.verify(key, message, &bytes(tag)[..31]));
    }
}

/// RFC 8032 (EdDSA), section 7.1: Ed25519 TEST 1, TEST 2 and TEST 3.
#[test]
fn ed25519_rfc_8032_section_7_1() {
    for (secret, public, message, signature) in [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ] {
        let key = Ed25519Key::from_seed(&array(secret));
        let (message, signature) = (bytes(message), bytes(signature));
        assert_eq!(hex::encode(key.public()), public);
        assert_eq!(key.sign(&message).to_vec(), signature);
        let public = array(public);
        assert!(verify_ed25519(&public, &message, &signature));
        assert!(!verify_ed25519(&public, b"other", &signature));
        assert!(!verify_ed25519(&public, &message, &signature[..63]));
    }
}
