/*
 * p11shim.c - a PKCS#11 module for the fault tests: the HSM failing mid-run.
 *
 * It forwards every call to the module named by COFFRE_P11SHIM_MODULE (SoftHSM2
 * in the tests), except that the calls coffre makes while it works (sessions,
 * logins, object searches, encryption, decryption, signatures) return
 * CKR_DEVICE_REMOVED for as long as the file named by COFFRE_P11SHIM_FAIL
 * exists: the test removes the HSM by creating that file, and puts it back by
 * deleting it.  Not part of coffre: built for the integration tests only.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST real; /* the wrapped module's functions */
static CK_FUNCTION_LIST shim; /* what coffre gets */
static void *handle;

static int
removed(void)
{
    const char *path = getenv("COFFRE_P11SHIM_FAIL");

    return path != NULL && access(path, F_OK) == 0;
}

#define GATE                                                                                       \
    do {                                                                                           \
        if (removed())                                                                             \
            return CKR_DEVICE_REMOVED;                                                             \
    } while (0)

static CK_RV
shim_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
                 CK_SESSION_HANDLE *session)
{
    GATE;
    return real.C_OpenSession(slot, flags, app, notify, session);
}

static CK_RV
shim_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, unsigned char *pin, unsigned long pin_len)
{
    GATE;
    return real.C_Login(session, user, pin, pin_len);
}

static CK_RV
shim_FindObjectsInit(CK_SESSION_HANDLE session, CK_ATTRIBUTE *templ, unsigned long count)
{
    GATE;
    return real.C_FindObjectsInit(session, templ, count);
}

static CK_RV
shim_EncryptInit(CK_SESSION_HANDLE session, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
    GATE;
    return real.C_EncryptInit(session, mech, key);
}

static CK_RV
shim_Encrypt(CK_SESSION_HANDLE session, unsigned char *data, unsigned long data_len,
             unsigned char *out, unsigned long *out_len)
{
    GATE;
    return real.C_Encrypt(session, data, data_len, out, out_len);
}

static CK_RV
shim_DecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
    GATE;
    return real.C_DecryptInit(session, mech, key);
}

static CK_RV
shim_Decrypt(CK_SESSION_HANDLE session, unsigned char *data, unsigned long data_len,
             unsigned char *out, unsigned long *out_len)
{
    GATE;
    return real.C_Decrypt(session, data, data_len, out, out_len);
}

static CK_RV
shim_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
    GATE;
    return real.C_SignInit(session, mech, key);
}

static CK_RV
shim_Sign(CK_SESSION_HANDLE session, unsigned char *data, unsigned long data_len,
          unsigned char *sig, unsigned long *sig_len)
{
    GATE;
    return real.C_Sign(session, data, data_len, sig, sig_len);
}

static CK_RV
shim_VerifyInit(CK_SESSION_HANDLE session, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
    GATE;
    return real.C_VerifyInit(session, mech, key);
}

static CK_RV
shim_Verify(CK_SESSION_HANDLE session, unsigned char *data, unsigned long data_len,
            unsigned char *sig, unsigned long sig_len)
{
    GATE;
    return real.C_Verify(session, data, data_len, sig, sig_len);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST **list)
{
    const char *path = getenv("COFFRE_P11SHIM_MODULE");
    CK_RV (*get)(CK_FUNCTION_LIST **) = NULL;
    CK_FUNCTION_LIST *fl = NULL;
    CK_RV rv;

    if (list == NULL)
        return CKR_ARGUMENTS_BAD;
    if (handle == NULL) {
        if (path == NULL || (handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
            return CKR_GENERAL_ERROR;
        *(void **)&get = dlsym(handle, "C_GetFunctionList");
        if (get == NULL)
            return CKR_GENERAL_ERROR;
        if ((rv = get(&fl)) != CKR_OK)
            return rv;
        real = *fl;
        shim = real;
        shim.C_GetFunctionList = C_GetFunctionList;
        shim.C_OpenSession = shim_OpenSession;
        shim.C_Login = shim_Login;
        shim.C_FindObjectsInit = shim_FindObjectsInit;
        shim.C_EncryptInit = shim_EncryptInit;
        shim.C_Encrypt = shim_Encrypt;
        shim.C_DecryptInit = shim_DecryptInit;
        shim.C_Decrypt = shim_Decrypt;
        shim.C_SignInit = shim_SignInit;
        shim.C_Sign = shim_Sign;
        shim.C_VerifyInit = shim_VerifyInit;
        shim.C_Verify = shim_Verify;
    }
    *list = &shim;
    return CKR_OK;
}
